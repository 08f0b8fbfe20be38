// A small server-sent-events client over fetch, for the live-update tests: opens
// `…/remediations:watch`, parses frames and lets a test wait for the ones it expects.
export class EventStream {
  constructor() {
    this.events = [];      // {id, event, data} in arrival order; data parsed as JSON
    this.comments = 0;     // ": keepalive" lines seen
    this.closed = false;
    this.waiters = [];
  }

  static async open(srv, path, { token, lastEventId, query = '' } = {}) {
    const s = new EventStream();
    s.abort = new AbortController();
    const headers = { authorization: `Bearer ${token === undefined ? srv.adminToken : token}` };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    s.response = await fetch(`${srv.base}${path}${query}`, { headers, signal: s.abort.signal });
    if (s.response.status !== 200) {
      s.error = await s.response.json();
      return s;
    }
    s.pump(s.response.body.getReader());
    await s.waitFor((e) => e.event === 'ready');
    return s;
  }

  async pump(reader) {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          this.frame(buf.slice(0, end));
          buf = buf.slice(end + 2);
        }
      }
    } catch { /* aborted */ }
    this.closed = true;
    this.notify();
  }

  frame(text) {
    const e = { id: null, event: 'message', data: '' };
    let hasField = false;
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) { this.comments += 1; continue; }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      hasField = true;
      if (field === 'data') e.data += (e.data ? '\n' : '') + value;
      else if (field === 'id') e.id = value;
      else if (field === 'event') e.event = value;
    }
    if (!hasField) { this.notify(); return; }
    e.data = JSON.parse(e.data);
    this.events.push(e);
    this.notify();
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  // Resolves with the first event matching `pred` (already seen or arriving within ms).
  waitFor(pred, ms = 10000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.events.find(pred);
        if (hit) { done(); resolve(hit); } else if (this.closed) { done(); reject(new Error('stream closed')); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(this.events.map((x) => [x.event, x.data?.state]))}`)); }, ms);
      const done = () => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== check); };
      this.waiters.push(check);
      check();
    });
  }

  remediations(id) {
    return this.events.filter((e) => e.event === 'remediation' && (!id || e.data.id === id)).map((e) => e.data);
  }

  close() {
    this.abort?.abort();
  }
}
