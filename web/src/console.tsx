// The consoles on /console of this origin, as a WebSocket ("binary"):
// the serial port in xterm.js, the screen in noVNC.
import { useEffect, useRef, useState } from "preact/hooks";
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import RFB from "@novnc/novnc";
import { getSession } from "./api";

function wsUrl(uuid: string): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/console?uuid=${encodeURIComponent(uuid)}&session_id=${encodeURIComponent(getSession())}`;
}

export function SerialConsole({ uuid }: { uuid: string }) {
  const el = useRef<HTMLDivElement>(null);
  const [state, setState] = useState("connecting");
  useEffect(() => {
    const dark = document.documentElement.dataset.theme === "dark";
    const term = new Terminal({
      convertEol: false,
      scrollback: 5000,
      fontSize: 13,
      theme: dark ? { background: "#111418", foreground: "#d8dee9" } : { background: "#fbfbfb", foreground: "#1a1a1a", cursor: "#1a1a1a", selectionBackground: "#b3d4fc" },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el.current!);
    // as many rows and columns as the panel holds, again when it changes size
    const refit = () => {
      if (el.current && el.current.offsetParent) fit.fit();
    };
    refit();
    const ro = new ResizeObserver(refit);
    ro.observe(el.current!);
    let ws: WebSocket | null = null;
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const enc = new TextEncoder();
    const connect = () => {
      ws = new WebSocket(wsUrl(uuid), ["binary"]);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => setState("connected");
      ws.onmessage = (m) => term.write(new Uint8Array(m.data as ArrayBuffer));
      ws.onclose = () => {
        if (closed) return;
        setState("disconnected");
        retry = setTimeout(connect, 2000);
      };
    };
    connect();
    const sub = term.onData((d) => ws?.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
    return () => {
      closed = true;
      clearTimeout(retry);
      sub.dispose();
      ro.disconnect();
      ws?.close();
      term.dispose();
    };
  }, [uuid]);
  return (
    <div>
      <p class="muted" role="status">
        Serial console: <span class="console-state">{state}</span>
      </p>
      <div class="terminal" ref={el} aria-label="Serial console" />
    </div>
  );
}

export function Screen({ uuid, viewOnly }: { uuid: string; viewOnly: boolean }) {
  const el = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | null>(null);
  const [state, setState] = useState("connecting");
  useEffect(() => {
    const r = new RFB(el.current!, wsUrl(uuid), { wsProtocols: ["binary"], shared: true });
    r.scaleViewport = true;
    r.viewOnly = viewOnly;
    r.addEventListener("connect", () => setState("connected"));
    r.addEventListener("disconnect", () => setState("disconnected"));
    rfb.current = r;
    return () => {
      try {
        r.disconnect();
      } catch {
        /* already gone */
      }
    };
  }, [uuid]);
  return (
    <div>
      <p class="muted" role="status">
        Screen: <span class="screen-state">{state}</span>{" "}
        {!viewOnly && (
          <button type="button" onClick={() => rfb.current?.sendCtrlAltDel()}>
            Send Ctrl+Alt+Del
          </button>
        )}
      </p>
      <div class="screen" ref={el} aria-label="VM screen" />
    </div>
  );
}
