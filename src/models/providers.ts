/** The ONNX Runtime execution providers `gas` can ask for; kept apart from session.ts so naming one loads no runtime. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'webgpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
