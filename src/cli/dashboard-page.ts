// The dashboard's one page: inline CSS and script, fed by /events (Server-Sent Events: a `history`
// of plot points on connect, then one `frame` per poll, see dashboard.ts). It draws the ring as a
// ring (SVG), who sees whom, replicas, hints and anti-entropy per pair, plots requests/s, errors/s
// and p99 with uPlot, and lists slow requests with the newest slow trace of each coordinator, as
// kvc prints it. Elements carry data attributes for tests (data-replica, data-observer,
// data-subject, data-state, data-points, data-slow, data-trace); window.__ringkv.lastFrame is the
// frame last drawn.
// The script uses no template literals, so this file can hold it in one.
export const dashboardHtml = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ringkv dashboard</title>
<link rel="stylesheet" href="/uPlot.min.css">
<style>
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 15px; margin: 16px 0 6px; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.UP { background: #d9f2d9; } .DOWN { background: #f8c6c6; font-weight: bold; } .UNREACHABLE { background: #f3d9a4; font-weight: bold; }
#alarms li { color: #a00; font-weight: bold; } pre { background: #f6f6f6; padding: 6px; font-size: 12px; overflow-x: auto; }
h3 { font-size: 13px; margin: 10px 0 4px; } #conn { color: #666; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
</style></head><body>
<h1>ringkv dashboard <span id="conn">connecting…</span></h1>
<div id="when"></div>
<h2>Alarms</h2><ul id="alarms"></ul>
<div class="grid">
<div><h2>Ring</h2><svg id="ring" width="520" height="300" viewBox="-260 -150 520 300"></svg><div id="ranges"></div></div>
<div><h2>Who sees whom (row: observer)</h2><table id="matrix"></table>
<h2>Replicas</h2><table id="replicas"></table></div>
</div>
<div class="grid">
<div><h2>Hints pending: <span id="hints-total">0</span></h2><table id="hints"></table></div>
<div><h2>Anti-entropy</h2><table id="ae"></table></div>
</div>
<h2>Requests/s per replica (last minutes)</h2><div id="plot-req"><i>no request rates reported yet</i></div>
<h2>Errors/s per replica</h2><div id="plot-err"><i>no error figures yet (two polls needed)</i></div>
<h2>Coordinator p99 ms per replica</h2><div id="plot-p99"><i>no latency figures reported yet</i></div>
<h2>Slow requests (newest first)</h2><table id="slow"></table>
<div id="traces"></div>
<script src="/uPlot.iife.min.js"></script>
<script>
window.__ringkv = { lastFrame: null, history: [] };
function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs || {}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = String(text); return e; }
function row(cells, head) { var tr = el('tr'); cells.forEach(function (c) { tr.appendChild(c instanceof Node ? c : el(head ? 'th' : 'td', {}, c)); }); return tr; }
function fill(id, rows) { var t = document.getElementById(id); t.replaceChildren.apply(t, rows); }
function ago(ms, now) { return ms === null ? 'never' : Math.round((now - ms) / 1000) + ' s ago'; }
function fixed(x, d) { return x === null || x === undefined ? '-' : x.toFixed(d); }
/** DOWN: most answering replicas see it DOWN; UNREACHABLE: only kvc cannot reach it; else UP. */
function stateOf(v, a) { return v.down.indexOf(a.name) >= 0 ? 'DOWN' : a.state === null ? 'UNREACHABLE' : 'UP'; }
function healthOf(r) { return r.noLiveReplica ? 'unavailable' : r.quorumLost ? 'no-quorum' : r.down.length > 0 ? 'short' : 'ok'; }
function viewOf(v, observer, subject) { return v.views.filter(function (x) { return x.observer === observer && x.subject === subject; })[0]; }
function drawRing(v) {
  var svg = document.getElementById('ring'), ns = 'http://www.w3.org/2000/svg'; svg.replaceChildren();
  var R = 110;
  v.ranges.forEach(function (r) {
    var h = healthOf(r);
    var a0 = r.first / 256 * 2 * Math.PI - Math.PI / 2, a1 = (r.last + 1) / 256 * 2 * Math.PI - Math.PI / 2;
    var p = document.createElementNS(ns, 'path');
    p.setAttribute('d', 'M ' + R * Math.cos(a0) + ' ' + R * Math.sin(a0) + ' A ' + R + ' ' + R + ' 0 0 1 ' + R * Math.cos(a1) + ' ' + R * Math.sin(a1));
    p.setAttribute('stroke', h === 'ok' ? '#4a4' : h === 'short' ? '#e90' : '#d22'); p.setAttribute('stroke-width', '18'); p.setAttribute('fill', 'none');
    p.setAttribute('data-range', r.first + '..' + r.last); p.setAttribute('data-health', h);
    svg.appendChild(p);
    var first = r.replicas[0], up = v.down.indexOf(first) < 0;
    var c = document.createElementNS(ns, 'circle'); c.setAttribute('cx', R * Math.cos(a0)); c.setAttribute('cy', R * Math.sin(a0)); c.setAttribute('r', 10);
    c.setAttribute('fill', up ? '#2a2' : '#c00'); svg.appendChild(c);
    var cx = Math.cos(a0), t = document.createElementNS(ns, 'text'); t.setAttribute('x', (R + 18) * cx); t.setAttribute('y', (R + 22) * Math.sin(a0) + 4);
    t.setAttribute('text-anchor', cx > 0.3 ? 'start' : cx < -0.3 ? 'end' : 'middle');
    t.setAttribute('font-size', '12'); t.textContent = first + ' ' + r.first + '..' + r.last; svg.appendChild(t);
  });
  fill('ranges', v.ranges.filter(function (r) { return healthOf(r) !== 'ok'; }).map(function (r) {
    return el('div', { 'data-short-range': r.first + '..' + r.last, 'data-health': healthOf(r) }, r.first + '..' + r.last + ': ' + healthOf(r) + ' (' + r.down.join(', ') + ' DOWN)'); }));
}
var plots = {};
function plot(id, title, field, names) {
  // Every plot spans the whole history (gaps where a replica reported nothing), so the three share one time axis.
  var h = window.__ringkv.history;
  var known = h.filter(function (p) { return names.some(function (n) { return p.replicas[n] && p.replicas[n][field] !== null; }); }).length;
  var box = document.getElementById(id);
  box.setAttribute('data-points', known);
  if (known === 0) return;
  var data = [h.map(function (p) { return p.atMs / 1000; })].concat(names.map(function (n) { return h.map(function (p) { return p.replicas[n] ? p.replicas[n][field] : null; }); }));
  if (!plots[id]) {
    var colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
    box.replaceChildren();
    plots[id] = new uPlot({ width: 720, height: 180, title: title,
      series: [{}].concat(names.map(function (n, i) { return { label: n, stroke: colors[i % colors.length], spanGaps: false }; })) }, data, box);
  } else plots[id].setData(data);
}
function draw(f) {
  window.__ringkv.lastFrame = f;
  var v = f.view, now = v.atMs, names = v.replicas.map(function (a) { return a.name; });
  document.getElementById('when').textContent = 'view at ' + new Date(now).toISOString() + '; RF ' + v.replicationFactor + ', DOWN after ' + f.downAfterMs + ' ms, anti-entropy ' +
    (f.antiEntropyIntervalMs === 0 ? 'off' : 'every ' + f.antiEntropyIntervalMs + ' ms') + ', slow requests ' + (f.slowRequestMs === 0 ? 'not logged' : 'from ' + f.slowRequestMs + ' ms');
  fill('alarms', (v.alarms.length ? v.alarms : ['none']).map(function (a) { return el('li', { 'data-alarm': '' }, a); }));
  drawRing(v);
  fill('matrix', [row([''].concat(names), true)].concat(v.replicas.map(function (a) {
    return row([el('th', {}, a.name)].concat(names.map(function (n) {
      if (n === a.name) return el('td', {}, '-');
      var x = viewOf(v, a.name, n);
      var st = a.state === null ? 'UNREACHABLE' : !x || x.up === null ? '?' : x.up ? 'UP' : x.refused ? 'REFUSED' : 'DOWN';
      var text = a.state === null ? '?' : st === 'UP' && x.rttMs !== null ? 'UP ' + x.rttMs.toFixed(1) + ' ms' : st;
      return el('td', { 'data-observer': a.name, 'data-subject': n, 'data-state': st, 'class': st }, text);
    })));
  })));
  var last = window.__ringkv.history[window.__ringkv.history.length - 1];
  fill('replicas', [row(['replica', 'state', 'req/s', 'errors/s', 'p99 ms', 'errors', 'keys', 'log bytes', 'why no answer'], true)].concat(v.replicas.map(function (a) {
    var st = stateOf(v, a), s = a.state, fig = s && s.figures, p = last && last.replicas[a.name], errs = 0;
    for (var k in (fig && fig.errors) || {}) errs += fig.errors[k];
    return row([a.name, el('td', { 'data-replica': a.name, 'data-state': st, 'class': st }, st), fixed(p && p.req, 1), fixed(p && p.err, 1),
      fixed(fig && fig.coordinatorP99Ms, 2), fig ? errs : '-', s ? s.status.keysStored : '-', s ? s.status.logBytes : '-', a.error || '']);
  })));
  var hints = v.views.filter(function (x) { return x.hintsHeld > 0 || x.hintsExpired > 0; }), total = 0;
  hints.forEach(function (x) { total += x.hintsHeld; });
  document.getElementById('hints-total').textContent = total;
  fill('hints', [row(['holder', 'for', 'held', 'expired'], true)].concat(hints.map(function (x) {
    return row([x.observer, x.subject, el('td', { 'data-hints-holder': x.observer, 'data-hints-peer': x.subject }, x.hintsHeld), x.hintsExpired]); })));
  fill('ae', [row(['replica', 'peer', 'last round', 'rounds', 'keys sent', 'keys received'], true)].concat(v.views.filter(function (x) { return x.antiEntropyRounds > 0; }).map(function (x) {
    return row([x.observer, x.subject, ago(x.lastRepairMs, now), x.antiEntropyRounds, x.antiEntropyKeysSent, x.antiEntropyKeysReceived]); })));
  plot('plot-req', 'requests/s', 'req', names);
  plot('plot-err', 'errors/s', 'err', names);
  plot('plot-p99', 'coordinator p99 ms', 'p99', names);
  fill('slow', f.slow.length === 0 ? [el('tr', {}, '')] : [row(['at', 'coordinator', 'request', 'ms', 'outcome', 'trace'], true)].concat(f.slow.map(function (s) {
    var req = s.op + (s.key === null ? '' : ' ' + s.key) + (s.level === null ? '' : ' ' + s.level);
    var tr = row([new Date(s.atMs).toISOString().slice(11, 23), s.replica, req, s.durationMs, s.outcome, s.session || '-']);
    tr.setAttribute('data-slow', s.replica); return tr;
  })));
  fill('traces', f.traces.map(function (t) {
    var d = el('div'); d.appendChild(el('h3', {}, 'newest slow trace coordinated by ' + t.replica));
    d.appendChild(el('pre', { 'data-trace': t.session, 'data-trace-replica': t.replica }, t.text)); return d;
  }));
}
var es = new EventSource('/events');
es.addEventListener('open', function () { document.getElementById('conn').textContent = '(live)'; });
es.addEventListener('error', function () { document.getElementById('conn').textContent = '(lost the stream from kvc; retrying)'; });
es.addEventListener('history', function (e) { window.__ringkv.history = JSON.parse(e.data); });
es.addEventListener('frame', function (e) {
  var m = JSON.parse(e.data), h = window.__ringkv.history;
  if (m.point && (!h.length || h[h.length - 1].atMs !== m.point.atMs)) h.push(m.point);
  if (h.length > 600) h.shift();
  draw(m.frame);
});
</script></body></html>
`;
