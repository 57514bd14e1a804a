/**
 * Reading the files a person names on the command line (a photo, a plan): light, so that the
 * queue commands can use them without loading the models.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { GasError } from '../errors.js';
import { parsePlan, type Plan } from '../plan/schema.js';

const isFile = (path: string) => existsSync(path) && statSync(path).isFile();

export function readPlanFile(path: string): Plan {
  if (!isFile(path)) throw new GasError('bad_input', `No plan file at ${path}.`);
  let json: unknown;
  try {
    // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse refuses.
    json = JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new GasError('bad_plan', `${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parsePlan(json);
}

/** The image file's bytes as they are, unchecked; a missing or unreadable file is bad input. */
export function readPhotoFile(path: string): Buffer {
  if (!isFile(path)) throw new GasError('bad_input', `No image at ${path}.`);
  try {
    return readFileSync(path);
  } catch (error) {
    throw new GasError('bad_input', `Could not read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
}
