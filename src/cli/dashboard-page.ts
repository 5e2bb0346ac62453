// The dashboard's one page: inline CSS and script, fed by /events (Server-Sent Events). It draws the
// ring as a ring (SVG), who sees whom, replicas, hints and anti-entropy per pair, and plots requests/s
// and p99 with uPlot. Cells carry data attributes (data-observer, data-subject, data-state,
// data-replica) for tests; window.__ringkv.lastSnapshot is the snapshot last drawn.
// The script uses no template literals, so this file can hold it in one.
export const dashboardHtml = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ringkv dashboard</title>
<link rel="stylesheet" href="/uPlot.min.css">
<style>
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 15px; margin: 16px 0 6px; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.UP { background: #d9f2d9; } .DOWN { background: #f8c6c6; font-weight: bold; } .UNREACHABLE { background: #f3d9a4; font-weight: bold; }
#alarms li { color: #a00; font-weight: bold; } #conn { color: #666; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
</style></head><body>
<h1>ringkv dashboard <span id="conn">connecting…</span></h1>
<div id="when"></div>
<h2>Alarms</h2><ul id="alarms"></ul>
<div class="grid">
<div><h2>Ring</h2><svg id="ring" width="400" height="320" viewBox="-200 -160 400 320"></svg><div id="ranges"></div></div>
<div><h2>Who sees whom (row: observer)</h2><table id="matrix"></table>
<h2>Replicas</h2><table id="replicas"></table></div>
</div>
<div class="grid">
<div><h2>Hints pending: <span id="hints-total">0</span></h2><table id="hints"></table></div>
<div><h2>Anti-entropy</h2><table id="ae"></table></div>
</div>
<h2>Requests/s per replica (last minutes)</h2><div id="plot-req"></div>
<h2>p99 ms per replica</h2><div id="plot-p99"><i>no latency figures reported yet</i></div>
<div id="traces"></div>
<script src="/uPlot.iife.min.js"></script>
<script>
window.__ringkv = { lastSnapshot: null, history: [] };
function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs || {}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = String(text); return e; }
function row(cells, head) { var tr = el('tr'); cells.forEach(function (c) { tr.appendChild(c instanceof Node ? c : el(head ? 'th' : 'td', {}, c)); }); return tr; }
function fill(id, rows) { var t = document.getElementById(id); t.replaceChildren.apply(t, rows); }
function ago(ms, now) { return ms === null ? 'never' : Math.round((now - ms) / 1000) + ' s ago'; }
function stateOf(s, r) { return r.status === null ? 'UNREACHABLE' : s.down.indexOf(r.name) >= 0 ? 'DOWN' : 'UP'; }
function reqRate(r) { if (!r.rates) return null; var n = 0; ['get','put','del','local','repair'].forEach(function (k) { n += r.rates[k] || 0; }); return n; }
function drawRing(s) {
  var svg = document.getElementById('ring'), ns = 'http://www.w3.org/2000/svg'; svg.replaceChildren();
  var R = 110, n = s.ring.length || 1;
  s.ring.forEach(function (r, i) {
    var a0 = r.first / 256 * 2 * Math.PI - Math.PI / 2, a1 = (r.last + 1) / 256 * 2 * Math.PI - Math.PI / 2;
    var p = document.createElementNS(ns, 'path');
    p.setAttribute('d', 'M ' + R * Math.cos(a0) + ' ' + R * Math.sin(a0) + ' A ' + R + ' ' + R + ' 0 0 1 ' + R * Math.cos(a1) + ' ' + R * Math.sin(a1));
    p.setAttribute('stroke', r.health === 'ok' ? '#4a4' : r.health === 'short' ? '#e90' : '#d22'); p.setAttribute('stroke-width', '18'); p.setAttribute('fill', 'none');
    p.setAttribute('data-range', r.first + '..' + r.last); p.setAttribute('data-health', r.health);
    svg.appendChild(p);
    var owner = s.replicas.filter(function (x) { return x.name === r.replicas[0]; })[0];
    var c = document.createElementNS(ns, 'circle'); c.setAttribute('cx', R * Math.cos(a0)); c.setAttribute('cy', R * Math.sin(a0)); c.setAttribute('r', 10);
    c.setAttribute('fill', owner && stateOf(s, owner) === 'UP' ? '#2a2' : '#c00'); svg.appendChild(c);
    var t = document.createElementNS(ns, 'text'); t.setAttribute('x', (R + 32) * Math.cos(a0) - 30); t.setAttribute('y', (R + 32) * Math.sin(a0) + 4);
    t.setAttribute('font-size', '12'); t.textContent = r.replicas[0] + ' ' + r.first + '..' + r.last; svg.appendChild(t);
  });
  fill('ranges', s.ring.filter(function (r) { return r.health !== 'ok'; }).map(function (r) {
    return el('div', { 'data-short-range': r.first + '..' + r.last }, r.first + '..' + r.last + ': ' + r.health + ' (' + r.down.join(', ') + ' DOWN)'); }));
}
var plots = {};
function plot(id, title, field, s) {
  var names = s.replicas.map(function (r) { return r.name; }), h = window.__ringkv.history;
  var pts = h.filter(function (p) { return names.some(function (n) { return p.replicas[n] && p.replicas[n][field] !== null; }); });
  if (pts.length === 0) return;
  var data = [pts.map(function (p) { return p.atMs / 1000; })].concat(names.map(function (n) { return pts.map(function (p) { return p.replicas[n] ? p.replicas[n][field] : null; }); }));
  if (!plots[id]) {
    var colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
    document.getElementById(id).replaceChildren();
    plots[id] = new uPlot({ width: 720, height: 200, title: title,
      series: [{}].concat(names.map(function (n, i) { return { label: n, stroke: colors[i % colors.length], spanGaps: false }; })) }, data, document.getElementById(id));
  } else plots[id].setData(data);
}
function draw(s) {
  window.__ringkv.lastSnapshot = s;
  var now = s.atMs, names = s.replicas.map(function (r) { return r.name; });
  document.getElementById('when').textContent = 'snapshot at ' + new Date(s.atMs).toISOString() + '; RF ' + s.replicationFactor + ', DOWN after ' + s.downAfterMs + ' ms';
  fill('alarms', (s.alarms.length ? s.alarms : ['none']).map(function (a) { return el('li', {}, a); }));
  drawRing(s);
  fill('matrix', [row([''].concat(names), true)].concat(s.replicas.map(function (r) {
    return row([el('th', {}, r.name)].concat(names.map(function (n) {
      if (n === r.name) return el('td', {}, '-');
      var v = r.status === null ? 'UNREACHABLE' : (s.seen[r.name][n] || '?');
      return el('td', { 'data-observer': r.name, 'data-subject': n, 'data-state': v, 'class': v }, r.status === null ? '?' : v);
    })));
  })));
  fill('replicas', [row(['replica', 'state', 'req/s', 'p99 ms', 'errors', 'keys', 'log bytes', 'error'], true)].concat(s.replicas.map(function (r) {
    var st = stateOf(s, r), fails = 0; for (var k in (r.status && r.status.clientReplies) || {}) if (k.indexOf('fail:') === 0) fails += r.status.clientReplies[k];
    var q = reqRate(r);
    return row([r.name, el('td', { 'data-replica': r.name, 'data-state': st, 'class': st }, st), q === null ? '-' : q.toFixed(1),
      r.latency ? r.latency.p99Ms.toFixed(2) : '-', r.status ? fails : '-', r.status ? r.status.keysStored : '-', r.status ? r.status.logBytes : '-', r.error || '']);
  })));
  var hints = s.pairs.filter(function (p) { return p.hintsPending > 0 || p.hintsExpired > 0; }), total = 0;
  hints.forEach(function (p) { total += p.hintsPending; });
  document.getElementById('hints-total').textContent = total;
  fill('hints', [row(['holder', 'for', 'pending', 'expired'], true)].concat(hints.map(function (p) {
    return row([p.holder, p.peer, el('td', { 'data-hints-holder': p.holder, 'data-hints-peer': p.peer }, p.hintsPending), p.hintsExpired]); })));
  fill('ae', [row(['replica', 'peer', 'last round', 'rounds', 'keys sent', 'keys received'], true)].concat(s.pairs.filter(function (p) { return p.aeRounds > 0; }).map(function (p) {
    return row([p.holder, p.peer, ago(p.aeLastRoundMs, now), p.aeRounds, p.aeKeysSent, p.aeKeysReceived]); })));
  plot('plot-req', 'requests/s', 'req', s);
  plot('plot-p99', 'p99 ms', 'p99', s);
  var traces = []; s.replicas.forEach(function (r) { (r.slowTraces || []).forEach(function (t) { traces.push(r.name + ': ' + t.summary + ' ' + t.elapsedMs + ' ms (' + t.id + ')'); }); });
  fill('traces', traces.length ? [el('h2', {}, 'Slow traces')].concat(traces.map(function (t) { return el('div', {}, t); })) : []);
}
var es = new EventSource('/events');
es.addEventListener('open', function () { document.getElementById('conn').textContent = '(live)'; });
es.addEventListener('error', function () { document.getElementById('conn').textContent = '(lost the stream from kvc; retrying)'; });
es.addEventListener('history', function (e) { window.__ringkv.history = JSON.parse(e.data); });
es.addEventListener('snapshot', function (e) {
  var s = JSON.parse(e.data), h = window.__ringkv.history, p = { atMs: s.atMs, replicas: {} };
  s.replicas.forEach(function (r) { p.replicas[r.name] = { req: reqRate(r), p99: r.latency ? r.latency.p99Ms : null }; });
  if (!h.length || h[h.length - 1].atMs !== s.atMs) h.push(p);
  if (h.length > 600) h.shift();
  draw(s);
});
</script></body></html>
`;
