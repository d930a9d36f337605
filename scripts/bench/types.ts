export type BenchmarkResult = {
  metric: string;
  value: number;
  unit: string;
  note?: string;
};

export type Benchmark = {
  name: string;
  /** Runs the measurement end to end (starting and stopping whatever it needs) and returns its figures. */
  run(): Promise<BenchmarkResult[]>;
};
