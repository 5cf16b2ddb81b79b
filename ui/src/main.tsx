/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The postern web UI entry point. Styles are bundled by esbuild into one CSS
 * file: the terminal's, the player's, then ours (so ours win).
 *
 * @module
 */

import { render } from "preact";
import "@xterm/xterm/css/xterm.css";
import "asciinema-player/dist/bundle/asciinema-player.css";
import "./style.css";
import { App } from "./app.tsx";

render(<App />, document.getElementById("app")!);
