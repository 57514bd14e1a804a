import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // ONNX Runtime already uses every core inside one process; two files at a time is plenty.
    maxWorkers: 2,
  },
});
