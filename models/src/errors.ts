/**
 * Typed errors of the models package. They know nothing of HTTP: the server maps each `code` to a status in
 * one table. Messages are written for the person who sent the input and name the offending value.
 */
export type ModelsErrorCode =
  | 'invalid_image' // malformed or unsupported file content (→ 415/400)
  | 'unsupported_format' // a format/extension we do not read (→ 415)
  | 'limit_exceeded' // a size limit (voxels, bytes, decompressed bytes) (→ 413)
  | 'invalid_prompt' // prompts that break VISTA3D's rules or the model's label set (→ 422)
  | 'invalid_model' // a model bundle that fails its schema or its graphs (→ 500 at start-up)
  | 'cancelled' // the caller aborted (→ 499/none)
  | 'backend_unavailable'; // a requested device cannot start

export class ModelsError extends Error {
  readonly code: ModelsErrorCode;
  constructor(code: ModelsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelsError';
    this.code = code;
  }
}

export class InvalidImageError extends ModelsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_image', message, options);
    this.name = 'InvalidImageError';
  }
}

export class UnsupportedFormatError extends ModelsError {
  constructor(message: string) {
    super('unsupported_format', message);
    this.name = 'UnsupportedFormatError';
  }
}

/** A declared or actual size is over a configured limit; `limit` names which one. */
export class LimitExceededError extends ModelsError {
  readonly limit: string;
  readonly value: number;
  readonly max: number;
  constructor(limit: string, value: number, max: number, what: string) {
    super('limit_exceeded', `${what}: ${value} exceeds the ${limit} limit of ${max}`);
    this.name = 'LimitExceededError';
    this.limit = limit;
    this.value = value;
    this.max = max;
  }
}

export class PromptError extends ModelsError {
  constructor(message: string) {
    super('invalid_prompt', message);
    this.name = 'PromptError';
  }
}

export class ModelBundleError extends ModelsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_model', message, options);
    this.name = 'ModelBundleError';
  }
}

export class CancelledError extends ModelsError {
  constructor(message = 'the operation was cancelled') {
    super('cancelled', message);
    this.name = 'CancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
