/**
 * ONNX Runtime sessions: opening a model file on the configured execution provider, and
 * reading the contract (names, types, shapes) that its metadata declares.
 */
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { GasError } from '../errors.js';
import type { ExecutionProvider } from './providers.js';

export { EXECUTION_PROVIDERS, type ExecutionProvider } from './providers.js';

const PROVIDER_HELP: Record<ExecutionProvider, string> = {
  cpu: 'The CPU provider ships with onnxruntime-node; reinstall it with `npm ci`.',
  cuda:
    'Install the CUDA provider: `npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12` on a Linux x64 ' +
    'machine with CUDA 12 and cuDNN 9, or run with --provider cpu.',
  webgpu: 'WebGPU needs a GPU adapter that Dawn can use (Vulkan on Linux, D3D12 on Windows, Metal on macOS); or run with --provider cpu.',
};

export interface TensorContract {
  name: string;
  type: string;
  /** Numbers are fixed sizes, strings symbolic ones; [] is a scalar. */
  shape: readonly (number | string)[];
}

export interface ModelSession {
  readonly file: string;
  readonly session: ort.InferenceSession;
  readonly inputs: readonly TensorContract[];
  readonly outputs: readonly TensorContract[];
  input(name: string): TensorContract | undefined;
  output(name: string): TensorContract | undefined;
}

export interface OpenSessionOptions {
  /** The model's bytes when they were rewritten in memory (see model-graph.ts); `file` still names it in messages. */
  bytes?: Uint8Array;
}

/** What "Failed to find kernel" / "Could not find an implementation" looks like from ONNX Runtime. */
const MISSING_KERNEL = /failed to find kernel|could not find an implementation/i;

export async function openSession(file: string, provider: ExecutionProvider, options: OpenSessionOptions = {}): Promise<ModelSession> {
  if (!options.bytes && !existsSync(file)) throw new GasError('bundle_invalid', `Missing model file ${file}.`);
  // ORT's own console logging would duplicate the errors we raise with a fix in them.
  ort.env.logLevel = 'fatal';
  const create = (level: 'all' | 'basic') => {
    const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: [provider], graphOptimizationLevel: level, logSeverityLevel: 4 };
    return options.bytes ? ort.InferenceSession.create(options.bytes, sessionOptions) : ort.InferenceSession.create(file, sessionOptions);
  };
  let session: ort.InferenceSession;
  try {
    try {
      session = await create('all');
    } catch (error) {
      // Fusions at the `all` level can turn float16 graphs into fused nodes with no kernel on this provider, while the
      // plain graph runs. ORT's message names the node, not its type, so any missing kernel gets one try at `basic`.
      if (!MISSING_KERNEL.test((error as Error).message)) throw error;
      session = await create('basic');
    }
  } catch (error) {
    const message = (error as Error).message;
    if (provider !== 'cpu' && /provider|backend|shared library|adapter|webgpu|cuda/i.test(message)) {
      throw new GasError('provider_unavailable', `The ${provider} execution provider is not available. ${PROVIDER_HELP[provider]}`, {
        file,
        cause: message,
      });
    }
    if (MISSING_KERNEL.test(message)) {
      throw new GasError(
        'bundle_invalid',
        `${file} uses operators the ${provider} provider has no kernel for (exports optimised for DirectML/CUDA, with fused com.microsoft operators, do). Use a plain export${provider === 'cpu' ? ', or --provider cuda' : ''}.`,
        { file, cause: message },
      );
    }
    throw new GasError('bundle_invalid', `Could not load ${file}: ${message.split('\n')[0]}`, { file, cause: message });
  }
  const contract = (meta: readonly ort.InferenceSession.ValueMetadata[]): TensorContract[] =>
    meta.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] }));
  const inputs = contract(session.inputMetadata);
  const outputs = contract(session.outputMetadata);
  return {
    file,
    session,
    inputs,
    outputs,
    input: (name) => inputs.find((i) => i.name === name),
    output: (name) => outputs.find((o) => o.name === name),
  };
}

/** The input called `name`, or a load-time error that names the file, the tensor and the contract. */
export function requireInput(model: ModelSession, name: string, expected: string): TensorContract {
  const found = model.input(name);
  if (!found) {
    throw new GasError(
      'bundle_invalid',
      `${model.file} has no input "${name}" (expected ${expected}); it has ${model.inputs.map((i) => i.name).join(', ')}.`,
    );
  }
  return found;
}

/** Checks rank and any fixed sizes of a declared contract against what we need. */
export function requireShape(model: ModelSession, tensor: TensorContract, expected: readonly (number | null)[], description: string): void {
  const fits = tensor.shape.length === expected.length &&
    tensor.shape.every((dim, i) => typeof dim !== 'number' || dim < 0 || expected[i] === null || dim === expected[i]);
  if (!fits) {
    throw new GasError(
      'bundle_invalid',
      `${model.file}: "${tensor.name}" has shape [${tensor.shape.join(', ')}]; expected ${description}.`,
    );
  }
}

/** The fixed size of a leading batch dimension, or undefined when it is symbolic. */
export function fixedBatchSize(tensor: TensorContract): number | undefined {
  const dim = tensor.shape[0];
  return typeof dim === 'number' && dim > 0 ? dim : undefined;
}

export function checkDims(model: ModelSession, name: string, actual: readonly number[], expected: readonly number[]): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new GasError('model_error', `${model.file}: "${name}" came back as [${actual.join(', ')}]; expected [${expected.join(', ')}].`);
  }
}

/** Runs a session and returns the named outputs, checking that each is there. */
export async function runSession(
  model: ModelSession,
  feeds: Record<string, ort.Tensor>,
  outputNames: readonly string[],
): Promise<Record<string, ort.Tensor>> {
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await model.session.run(feeds, outputNames as string[]);
  } catch (error) {
    throw new GasError('model_error', `Running ${model.file} failed: ${(error as Error).message.split('\n')[0]}`, {
      cause: (error as Error).message,
    });
  }
  const out: Record<string, ort.Tensor> = {};
  for (const name of outputNames) out[name] = result[name] as ort.Tensor;
  return out;
}
