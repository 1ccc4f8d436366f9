// The status page: reads GET /v1/status and follows the monitor's
// placement stream (GET /v1/placements?watch=1, one JSON object a line).
// Every line of the stream (snapshot, change, keepalive) re-reads the
// status; while an incident is open the status is re-read every second,
// since its steps change the state without moving the service.
'use strict';

const page = {
  status: null,      // the last GET /v1/status
  placements: {},    // service -> placement, from the stream
  changed: {},       // service -> Date.now() of its last change seen
  events: [],        // placement changes seen, newest first
  incidents: {},     // incident id -> {service, n, inc}: every one the status showed while the page is open
  live: false,
  drills: null,
};

const el = (id) => document.getElementById(id);

function node(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k.startsWith('data-')) n.setAttribute(k, v);
    else n[k] = v;
  }
  for (const k of kids) {
    if (k === undefined || k === null) continue;
    n.append(k instanceof Node ? k : String(k));
  }
  return n;
}

function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren(...(rows.length ? rows : [node('tr', {}, node('td', { colSpan: cols, class: 'empty' }, empty))]));
}

function clock(t) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d) || d.getFullYear() < 2000) return '';
  return d.toLocaleString(undefined, { hour12: false });
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (Number.isInteger(n) ? n : n.toFixed(1)) + ' ' + units[i];
}

function msText(v) { return v === null || v === undefined ? '–' : Math.round(v) + ' ms'; }

// recovery is a service's last recovery as `understudy status` prints it:
// total (phase +ms, ...) result.
function recovery(inc) {
  if (!inc) return '';
  const phases = (inc.phases || []).slice(1).map((p) => p.phase + ' +' + Math.round(p.since_ms)).join(', ');
  const result = inc.open ? 'open' : (inc.result || '');
  return Math.round(inc.total_ms) + ' ms' + (phases ? ' (' + phases + ')' : '') + ' ' + result;
}

// holdText says what a placement's flags ask of the proxies: held (a
// move), failing over (a failover, confirmed until its DNS flip),
// unavailable and why (a failover stuck after the fence, or unprotected).
function holdText(p) {
  if (p.unavailable) return 'unavailable: ' + p.unavailable;
  if (p.failing_over) return 'failing over';
  return p.held ? 'held' : '';
}

// where is a service's placement: the stream's when it is newer than the
// status's (the status is re-read at once, the stream is first).
function where(s) {
  const p = page.placements[s.service];
  if (p && (!s.since || new Date(p.since) >= new Date(s.since))) {
    return { where: p.where, host: p.host, address: p.address, since: p.since, held: holdText(p) };
  }
  return { where: s.where, host: s.host, address: s.address, since: s.since };
}

function renderServices(st) {
  const rows = st.services.map((s) => {
    const w = where(s);
    const sb = s.standby || {};
    const standby = sb.error ? node('span', { class: 'err' }, sb.error)
      : (sb.name || '') + (sb.prepared ? ' ready' : sb.note ? ' (' + sb.note + ')' : '');
    const fresh = Date.now() - (page.changed[s.service] || 0) < 1500;
    return node('tr', { 'data-service': s.service, 'data-state': s.state, 'data-where': w.where, class: fresh ? 'changed' : '' },
      node('td', {}, node('strong', {}, s.service)),
      node('td', { class: 'state' }, node('span', { class: 'badge ' + s.state }, s.state), w.held ? ' ' + w.held : ''),
      node('td', { class: 'where' }, w.where + (w.host ? ' · ' + w.host : '')),
      node('td', { class: 'address' }, w.address || ''),
      node('td', {}, clock(w.since)),
      node('td', {}, standby),
      node('td', { class: 'recovery' }, recovery(s.last_incident)));
  });
  fill(el('services').tBodies[0], rows, 'no service', 7);
}

function timeline(inc) {
  const phases = inc.phases || [];
  const total = Math.max(inc.total_ms || 0, 1);
  const bar = node('div', { class: 'timeline' });
  phases.forEach((p, i) => {
    const at = 100 * p.at_ms / total;
    const m = node('div', { class: 'mark row' + (i % 3) + (at > 60 ? ' end' : ''), title: p.phase + ' at ' + clock(p.at) },
      node('span', {}, p.phase + ' ' + Math.round(p.at_ms) + ' ms'));
    m.style.left = at + '%';
    bar.append(m);
  });
  return bar;
}

function renderIncidents(st) {
  for (const s of st.services) {
    if (s.last_incident) page.incidents[s.last_incident.id] = { service: s.service, n: s.incidents, inc: s.last_incident };
  }
  const incs = Object.values(page.incidents);
  incs.sort((a, b) => new Date(b.inc.opened) - new Date(a.inc.opened));
  incs.splice(20);
  const box = el('incidents');
  if (!incs.length) {
    box.replaceChildren(node('p', { class: 'empty' }, 'no incident yet'));
    return;
  }
  box.replaceChildren(...incs.map(({ service, inc }) => {
    const cls = inc.open ? (inc.stuck ? 'stuck' : 'open') : inc.result;
    const steps = (inc.steps || []).map((s) => s.kind + ' ' + s.status + (s.ms ? ' ' + Math.round(s.ms) + ' ms' : '')).join(' · ');
    return node('div', { class: 'incident ' + cls, 'data-service': service },
      node('div', {}, node('strong', {}, service), ' · ', inc.id, ' · ', inc.source, ' · ', inc.reason,
        ' · opened ', clock(inc.opened), inc.closed ? ' · closed ' + clock(inc.closed) : '',
        ' · ', inc.open ? 'open' : inc.result, ' in ', msText(inc.total_ms)),
      timeline(inc),
      node('div', { class: 'steps' }, steps),
      inc.stuck ? node('div', { class: 'err' }, 'stuck: ' + inc.stuck) : null,
      inc.last_error ? node('div', { class: 'err' }, inc.last_error) : null);
  }));
}

function renderEvents() {
  el('events').replaceChildren(...page.events.slice(0, 30).map((e) =>
    node('li', {}, clock(e.seen), ' · ', e.service, ' → ', e.where, ' ', e.host, ' ', e.address, e.held ? ' (' + e.held + ')' : '')));
}

function renderVMs(st) {
  const here = {};
  for (const s of st.services) {
    const h = where(s).host;
    here[h] = (here[h] || 0) + 1;
  }
  const rows = (st.vms || []).map((v) => node('tr', { 'data-vm': v.name },
    node('td', {}, v.name), node('td', {}, v.kind),
    node('td', { class: 'num' }, (here[v.name] || 0) + ' of ' + (v.capacity && v.capacity.containers || '?')),
    node('td', { class: 'num' }, v.capacity && v.capacity.memory_bytes ? bytes(v.capacity.memory_bytes) : '?'),
    node('td', { class: 'num' }, v.unknown ? '?' : v.steal_percent.toFixed(1) + ' %'),
    node('td', { class: 'num' }, v.unknown ? '?' : v.load_per_cpu.toFixed(2)),
    node('td', {}, clock(v.sampled_at)),
    node('td', { class: v.overloaded ? 'err' : 'muted' }, v.overloaded ? 'overloaded: ' + v.why : (v.unknown || ''))));
  fill(el('vms').tBodies[0], rows, 'no standby VM', 8);
}

function renderMonitors(st) {
  const rows = st.monitors.map((m) => node('tr', { 'data-monitor': m.name, 'data-leader': m.leader },
    node('td', {}, m.name, m.name === st.monitor ? ' (answered)' : ''),
    node('td', {}, m.leader ? node('strong', {}, 'leader') : 'follower'),
    node('td', {}, m.address || ''), node('td', {}, clock(m.since)), node('td', { class: 'num' }, m.epoch || '')));
  fill(el('monitors').tBodies[0], rows, 'no monitor', 5);
}

function renderSummary(st) {
  const leader = st.monitors.find((m) => m.leader);
  const away = st.services.filter((s) => where(s).where !== 'primary').length;
  el('summary').textContent = st.services.length + ' services, ' + away + ' away from their primary · leader ' +
    (leader ? leader.name : 'none') + ' · epoch ' + st.epoch + ' · as of ' + clock(st.time) + (st.error ? ' · ' + st.error : '');
}

function render() {
  const st = page.status;
  if (!st) return;
  renderSummary(st);
  renderServices(st);
  renderIncidents(st);
  renderVMs(st);
  renderMonitors(st);
  renderEvents();
}

function renderDrills() {
  const d = page.drills;
  if (!d) return;
  el('drills-note').textContent = d.note || (d.drills.length ? '' : 'no drill yet');
  const list = d.drills.slice().reverse();
  const rows = list.map((x) => {
    const r = x.result;
    const failed = 'DNS ' + r.requests.dns.failed + ', proxy ' + r.requests.proxy.failed;
    return node('tr', { 'data-drill': x.id, class: x.regression ? 'err' : '' },
      node('td', {}, clock(r.started)), node('td', {}, r.service), node('td', {}, r.inject), node('td', {}, r.via),
      node('td', {}, r.verdict), node('td', { class: 'num' }, msText(r.phases.detected)),
      node('td', { class: 'num' }, msText(r.phases.dns_flipped)), node('td', { class: 'num' }, msText(r.recovery_ms)),
      node('td', { class: 'num' }, msText(x.median_ms)), node('td', {}, failed), node('td', {}, x.regression || ''));
  });
  fill(el('drills').tBodies[0], rows, 'no drill yet', 11);
  const have = new Set([...el('charts').children].map((c) => c.dataset.drill));
  const want = list.map((x) => x.id).join('\n');
  if ([...have].join('\n') === want) return;
  el('charts').replaceChildren(...list.map((x, i) => {
    const img = node('img', { src: '/ui/drills/' + encodeURIComponent(x.id) + '.svg', alt: 'chart of drill ' + x.id, loading: 'lazy' });
    return node('details', { 'data-drill': x.id, open: i === 0 },
      node('summary', {}, 'chart: ' + x.result.service + ' ' + x.result.inject + ' at ' + clock(x.result.started)), node('figure', {}, img));
  }));
}

async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(url + ': ' + r.status);
  return r.json();
}

// refresh re-reads the status, one request at a time: a call while one is
// running makes one more run after it.
let reading = null, again = false, pollTimer = null;
async function refresh() {
  if (reading) { again = true; return reading; }
  reading = (async () => {
    do {
      again = false;
      try {
        page.status = await getJSON('/v1/status');
        render();
      } catch (e) {
        el('summary').textContent = 'status: ' + e.message;
      }
    } while (again);
  })();
  await reading;
  reading = null;
  clearTimeout(pollTimer);
  if (page.status && page.status.services.some((s) => s.last_incident && s.last_incident.open)) {
    pollTimer = setTimeout(refresh, 1000);
  }
}

async function refreshDrills() {
  try {
    page.drills = await getJSON('/ui/drills');
  } catch (e) {
    page.drills = { drills: [], note: 'drill history: ' + e.message };
  }
  renderDrills();
}

function onLine(ev) {
  if (ev.type === 'snapshot') {
    page.placements = {};
    for (const p of ev.placements || []) page.placements[p.service] = p;
    refreshDrills();
  } else if (ev.type === 'change') {
    for (const p of ev.placements || []) {
      page.placements[p.service] = p;
      page.changed[p.service] = Date.now();
      page.events.unshift({ seen: new Date(), service: p.service, where: p.where, host: p.host, address: p.address, held: holdText(p) });
    }
    render();
  } else if (ev.type === 'keepalive') {
    refreshDrills();
  }
  refresh();
}

function setLive(on, why) {
  page.live = on;
  const l = el('live');
  l.className = 'live ' + (on ? 'on' : 'off');
  l.textContent = on ? 'live' : 'reconnecting' + (why ? ': ' + why : '');
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// follow reads the placement stream, and reconnects a second after it ends.
async function follow() {
  for (;;) {
    try {
      const r = await fetch('/v1/placements?watch=1', { cache: 'no-store' });
      if (!r.ok) throw new Error('placements: ' + r.status);
      setLive(true);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line) onLine(JSON.parse(line));
        }
      }
      setLive(false, 'the stream ended');
    } catch (e) {
      setLive(false, e.message);
    }
    await sleep(1000);
  }
}

refresh();
follow();
