/**
 * A small Prometheus registry: counters, gauges and histograms with fixed
 * label names, rendered in the text exposition format (version 0.0.4) that
 * Prometheus scrapes and `promtool check metrics` accepts.
 *
 * Label values come from small fixed sets chosen in code (a connection kind,
 * an error kind, an Auth API call name): never a user name, address or
 * session id, so the number of series stays bounded.
 *
 * @module
 */

/** The label values of one series, by label name. */
export type Labels<L extends string> = Readonly<Record<L, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Options shared by every metric. */
export interface MetricOptions<L extends string> {
  /** `postern_..._total` for counters, a base unit suffix (`_seconds`, `_bytes`) where there is one. */
  name: string;
  /** One line saying what is counted. */
  help: string;
  /** @default [] */
  labelNames?: readonly L[];
  /** Label values shown with 0 before anything happened, so that `rate()` sees the first increase. */
  initial?: Labels<L>[];
}

interface Series<L extends string, V> {
  labels: Labels<L>;
  value: V;
}

/** What every metric type has: name, help, labels and its series. */
abstract class Metric<L extends string, V> {
  abstract readonly type: "counter" | "gauge" | "histogram";
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected readonly series = new Map<string, Series<L, V>>();

  constructor(options: MetricOptions<L>) {
    if (!METRIC_NAME.test(options.name)) throw new Error(`bad metric name ${options.name}`);
    for (const label of options.labelNames ?? []) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
        throw new Error(`bad label name ${label} of ${options.name}`);
      }
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
  }

  protected abstract zero(): V;

  /** The series of `labels`, created at zero if new. */
  protected at(labels: Labels<L>): Series<L, V> {
    const key = this.labelNames.map((name) => labels[name]).join("\u0000");
    let found = this.series.get(key);
    if (!found) {
      const copy = Object.fromEntries(this.labelNames.map((name) => [name, labels[name]]));
      this.series.set(key, found = { labels: copy as Labels<L>, value: this.zero() });
    }
    return found;
  }

  /** The sample lines of this metric. */
  abstract samples(): string[];

  /** The HELP and TYPE lines followed by the samples. */
  render(): string {
    const help = this.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
    return [`# HELP ${this.name} ${help}`, `# TYPE ${this.name} ${this.type}`, ...this.samples()]
      .join("\n");
  }
}

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatLabels(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([name, value]) =>
    `${name}="${escapeLabelValue(value)}"`
  );
  return pairs.length ? `{${pairs.join(",")}}` : "";
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function line(name: string, labels: Record<string, string>, value: number): string {
  return `${name}${formatLabels(labels)} ${formatValue(value)}`;
}

/** A value that only goes up (restarts from 0 with the process). */
export class Counter<L extends string = never> extends Metric<L, number> {
  readonly type = "counter";

  constructor(options: MetricOptions<L>) {
    super(options);
    if (!options.name.endsWith("_total")) throw new Error(`counter ${options.name} needs _total`);
    for (const labels of options.initial ?? []) this.at(labels);
  }

  protected zero(): number {
    return 0;
  }

  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels: Labels<L> = {} as Labels<L>, by = 1): void {
    if (by < 0 || !Number.isFinite(by)) return;
    this.at(labels).value += by;
  }

  samples(): string[] {
    return [...this.series.values()].map(({ labels, value }) => line(this.name, labels, value));
  }
}

/** Options of a {@linkcode Gauge}. */
export interface GaugeOptions<L extends string> extends MetricOptions<L> {
  /** Called before each scrape to set values read from elsewhere (memory, clocks). */
  collect?: (gauge: Gauge<L>) => void;
}

/** A value that goes up and down. */
export class Gauge<L extends string = never> extends Metric<L, number> {
  readonly type = "gauge";
  readonly #collect?: (gauge: Gauge<L>) => void;

  constructor(options: GaugeOptions<L>) {
    super(options);
    this.#collect = options.collect;
    for (const labels of options.initial ?? []) this.at(labels);
  }

  protected zero(): number {
    return 0;
  }

  /** Sets the series of `labels` to `value`. */
  set(labels: Labels<L>, value: number): void {
    this.at(labels).value = value;
  }

  /** Adds `by` (default 1). */
  inc(labels: Labels<L> = {} as Labels<L>, by = 1): void {
    this.at(labels).value += by;
  }

  /** Subtracts `by` (default 1). */
  dec(labels: Labels<L> = {} as Labels<L>, by = 1): void {
    this.at(labels).value -= by;
  }

  samples(): string[] {
    this.#collect?.(this);
    return [...this.series.values()].map(({ labels, value }) => line(this.name, labels, value));
  }
}

/** Options of a {@linkcode Histogram}. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds, ascending. @default {DEFAULT_BUCKETS} */
  buckets?: number[];
}

/** Bucket bounds in seconds for request latencies: 1 ms to 10 s. */
export const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Distribution {
  counts: number[];
  sum: number;
  count: number;
}

/** Counts observations (latencies) into buckets. */
export class Histogram<L extends string = never> extends Metric<L, Distribution> {
  readonly type = "histogram";
  readonly buckets: number[];

  constructor(options: HistogramOptions<L>) {
    super(options);
    this.buckets = options.buckets ?? DEFAULT_BUCKETS;
    for (const labels of options.initial ?? []) this.at(labels);
  }

  protected zero(): Distribution {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  /** Records one observation of `value`. */
  observe(labels: Labels<L>, value: number): void {
    const series = this.at(labels).value;
    this.buckets.forEach((bound, i) => {
      if (value <= bound) series.counts[i]++;
    });
    series.sum += value;
    series.count++;
  }

  /**
   * Starts timing; the returned function records the seconds elapsed.
   *
   * @example
   * ```ts
   * const done = histogram.startTimer({ call: "clusterInfo" });
   * try { await work(); } finally { done(); }
   * ```
   */
  startTimer(labels: Labels<L>): () => void {
    const started = performance.now();
    return () => this.observe(labels, (performance.now() - started) / 1000);
  }

  samples(): string[] {
    const out: string[] = [];
    for (const { labels, value } of this.series.values()) {
      this.buckets.forEach((bound, i) =>
        out.push(
          line(`${this.name}_bucket`, { ...labels, le: formatValue(bound) }, value.counts[i]),
        )
      );
      out.push(line(`${this.name}_bucket`, { ...labels, le: "+Inf" }, value.count));
      out.push(line(`${this.name}_sum`, labels, value.sum));
      out.push(line(`${this.name}_count`, labels, value.count));
    }
    return out;
  }
}

/** A set of metrics rendered together. */
export class Registry {
  readonly #metrics = new Map<string, Metric<string, unknown>>();

  #add<M extends Metric<string, unknown>>(metric: M): M {
    if (this.#metrics.has(metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** Registers a counter. */
  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.#add(new Counter(options));
  }

  /** Registers a gauge. */
  gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L> {
    return this.#add(new Gauge(options));
  }

  /** Registers a histogram. */
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.#add(new Histogram(options));
  }

  /** Every metric in the text exposition format, ending with a newline. */
  render(): string {
    return [...this.#metrics.values()].map((metric) => metric.render()).join("\n") + "\n";
  }
}

/** The Content-Type of {@linkcode Registry.render}'s output. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
