import { expect } from 'vitest';
import { GasError } from '../../src/errors.js';

/** The GasError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<GasError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GasError);
    return error as GasError;
  }
  throw new Error('expected the promise to reject');
}
