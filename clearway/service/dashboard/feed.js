// The live feed: a WebSocket to /feed, authenticated by its first message, reconnected with
// backoff after any close, and watched: no message (not even a pong) for a while = reconnect.

const CLOSE_UNAUTHORIZED = 4401;
const PING_EVERY_MS = 10000;
const SILENCE_MS = 25000;

export class Feed {
  /**
   * @param {() => string|null} token  the current bearer token (null: do not connect)
   * @param {object} on  handlers: message(msg), status(state, detail), unauthorized(detail)
   */
  constructor(token, on) {
    this.token = token;
    this.on = on;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.lastHeard = 0;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = null;
      try { ws.close(1000, "signed out"); } catch { /* already closed */ }
    }
  }

  connect() {
    if (this.stopped) return;
    const token = this.token();
    if (!token) {
      this.on.unauthorized("your session has expired; enter your API key again");
      return;
    }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/feed`);
    this.ws = ws;
    this.on.status(this.attempt ? "reconnecting" : "connecting");
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", token }));
      this.lastHeard = Date.now();
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.keepAlive(), PING_EVERY_MS);
    };
    ws.onmessage = (ev) => {
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === "hello") {
        this.attempt = 0;
        this.on.status("live");
      } else if (msg.type === "error") {
        this.lastError = `${msg.error}: ${msg.detail}`;
      }
      this.on.message(msg);
    };
    ws.onerror = () => { /* onclose follows and says why */ };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pinger);
      if (this.stopped) return;
      if (ev.code === CLOSE_UNAUTHORIZED) {
        this.stopped = true;
        this.on.unauthorized(this.lastError || ev.reason || "the feed refused the credential");
        return;
      }
      this.retry(`closed (${ev.code}${ev.reason ? ": " + ev.reason : ""})`);
    };
  }

  retry(why) {
    // 0.5 s, 1 s, 2 s ... up to 15 s, with jitter so a restarted server is not stampeded.
    const base = Math.min(15000, 500 * 2 ** Math.min(this.attempt, 5));
    const wait = base * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.on.status("offline", `${why}; retrying in ${(wait / 1000).toFixed(1)} s`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  keepAlive() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > SILENCE_MS) {
      // A half-open connection (server gone without a close): drop it and reconnect.
      this.ws = null;
      clearInterval(this.pinger);
      ws.onclose = ws.onmessage = ws.onerror = null;
      try { ws.close(4000, "silent"); } catch { /* ignore */ }
      this.retry("no message for 25 s");
      return;
    }
    ws.send(JSON.stringify({ type: "ping" }));
  }
}
