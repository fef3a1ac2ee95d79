/** One server-sent event: its `event` field (`message` when absent) and its data lines joined with newlines. */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/** Longest line the parser keeps while waiting for its end (a stream that never ends a line is refused). */
const MAX_LINE = 1 << 20;

/**
 * Parses a `text/event-stream` body as it arrives (WHATWG HTML §9.2): `push` each decoded chunk, get the events it
 * completed. Lines end with LF, CR or CRLF (a CR at a chunk's end waits for the next one); comments (`:`) and the
 * `id` / `retry` fields are ignored; an event is dispatched at a blank line when it has data.
 */
export class EventStreamParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private hasData = false;

  push(text: string): ServerSentEvent[] {
    this.buffer += text;
    const out: ServerSentEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/[\r\n]/);
      if (end < 0) break;
      if (this.buffer[end] === '\r' && end === this.buffer.length - 1) break; // CR, perhaps of a CRLF
      const width = this.buffer[end] === '\r' && this.buffer[end + 1] === '\n' ? 2 : 1;
      this.line(this.buffer.slice(0, end), out);
      this.buffer = this.buffer.slice(end + width);
    }
    if (this.buffer.length > MAX_LINE) throw new Error(`event stream line over ${MAX_LINE} characters`);
    return out;
  }

  private line(line: string, out: ServerSentEvent[]): void {
    if (line === '') {
      if (this.hasData) out.push({ event: this.event || 'message', data: this.data.join('\n') });
      this.event = '';
      this.data = [];
      this.hasData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') {
      this.data.push(value);
      this.hasData = true;
    }
  }
}
