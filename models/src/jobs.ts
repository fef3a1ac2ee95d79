/**
 * A job of the server's jobs API (`/v1/vista3d/jobs`, beside the NIM's synchronous endpoint), as the server
 * describes it and the viewer reads it: one type for both sides of the wire.
 */
export interface JobView {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  /** Pipeline stage (`Progress.stage`) or `queued` / `load`. */
  stage: string;
  done: number;
  total: number;
  error?: { status: number; detail: string };
  /** The result's file name (`<stem>_seg.<ext>`), once done. */
  file_name?: string;
}
