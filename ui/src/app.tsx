/** Application shell: header, navigation and the current page. */
export function App() {
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="/web/">postern</a>
      </header>
      <main class="page">
        <h1>Welcome to postern</h1>
        <p>Identity-aware SSH access. Sign in to see your nodes.</p>
      </main>
    </div>
  );
}
