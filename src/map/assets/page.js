(function () {
  'use strict';
  var body = document.body;

  function fail(e) {
    var msg = (e && e.message) ? e.message : String(e);
    var el = document.getElementById('error');
    el.hidden = false;
    el.textContent = 'This map could not be drawn: ' + msg;
    body.setAttribute('data-memlink-error', msg);
  }

  // h('div', {class: 'x', 'data-a': 1}, child, 'text', ...)
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) el.setAttribute(k, attrs[k]);
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return el;
  }

  // The same text as memlink's format_size: bytes below 1 KiB, else one decimal.
  function size(b) {
    if (b === null || b === undefined) return '-';
    var neg = b < 0; b = Math.abs(b);
    if (b < 1024) return (neg ? '-' : '') + Math.round(b) + 'B';
    var units = ['KB', 'MB', 'GB', 'TB', 'PB', 'EB'], v = b / 1024, i = 0;
    while (v >= 1024 && i + 1 < units.length) { v /= 1024; i++; }
    return (neg ? '-' : '') + v.toFixed(1) + units[i];
  }

  function dark(color) {
    var c = parseInt(color.slice(1), 16);
    var lum = 0.299 * ((c >> 16) & 255) + 0.587 * ((c >> 8) & 255) + 0.114 * (c & 255);
    return lum <= 150;
  }

  function sevColor(s) {
    s = String(s).toLowerCase();
    if (s === 'critical' || s === 'high' || s === 'error') return '#c00000';
    if (s === 'medium' || s === 'warning') return '#e07b00';
    return '#1f5fbf';
  }

  function addr(a) { return BigInt(a); }

  function utc(secs) {
    return new Date(secs * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function regionName(r) {
    if (r.mapped_file !== null && r.mapped_file !== undefined) return r.mapped_file + (r.deleted ? ' (deleted)' : '');
    return r.name || '';
  }

  function section(title) {
    var s = h('section', null, h('h2', null, title));
    return s;
  }

  function drawRegions(doc, app) {
    var layout = doc.layout, regions = doc.regions, stats = doc.stats, proc = doc.process;
    var colors = {};
    doc.palette.types.forEach(function (t) { colors[t[0]] = t[1]; });
    var t = stats.total;
    var sub = 'PID ' + proc.pid + ' (' + proc.name + '), taken ' + utc(doc.taken_at) +
      ' \u00b7 ' + layout.regions + ' regions \u00b7 ' + size(t.virtual_size) + ' virtual';
    if (stats.detailed) sub += ' \u00b7 RSS ' + size(t.rss) + ' \u00b7 PSS ' + size(t.pss) + ' \u00b7 swap ' + size(t.swap);
    if (layout.aggregates > 0) sub += ' \u00b7 ' + layout.aggregated_regions + ' small regions drawn as ' + layout.aggregates + ' groups';
    if (doc.diff) {
      var d = doc.diff;
      sub = 'From PID ' + d.pid_a + ' at ' + utc(d.taken_at_a) + ' to PID ' + d.pid_b + ' at ' + utc(d.taken_at_b) +
        ' \u00b7 ' + d.added.length + ' added, ' + d.removed.length + ' removed, ' + d.grown.length + ' grown, ' +
        d.shrunk.length + ' shrunk \u00b7 RSS ' + signed(d.total.delta.rss) + ' \u00b7 virtual ' + signed(d.total.delta.virtual_size);
    }
    document.getElementById('subtitle').textContent = sub;

    // Controls: type filters (which double as the legend) and the path search.
    var hidden = {};
    var controls = h('div', { class: 'controls', id: 'controls' });
    stats.by_type.forEach(function (tf) {
      var cb = h('input', { type: 'checkbox', checked: 'checked', 'data-type': tf.region_type });
      var chip = h('label', { class: 'chip', title: 'Show or hide ' + tf.region_type + ' regions' }, cb,
        h('span', { class: 'sw', style: null }), tf.region_type + ' ' + tf.count);
      chip.querySelector('.sw').style.background = colors[tf.region_type];
      cb.addEventListener('change', function () {
        hidden[tf.region_type] = !cb.checked;
        chip.classList.toggle('off', !cb.checked);
        refilter();
      });
      controls.appendChild(chip);
    });
    var search = h('input', { id: 'search', type: 'search', placeholder: 'Search paths and names\u2026', autocomplete: 'off' });
    var count = h('span', { class: 'count', id: 'match-count' });
    var reset = h('button', { type: 'button' }, 'Reset');
    controls.appendChild(search);
    controls.appendChild(count);
    controls.appendChild(reset);
    app.appendChild(controls);

    // The map and the details panel.
    var map = h('div', { class: 'map', id: 'map' });
    var details = h('aside', { id: 'details' }, h('h3', null, 'Details'),
      h('p', { class: 'hint' }, 'Hover a cell for a summary; click it for every detail.'));
    app.appendChild(h('div', { class: 'layout' }, map, details));

    var cells = [];
    var W = layout.width;
    layout.rows.forEach(function (row) {
      if (row.gap_label) map.appendChild(h('div', { class: 'break' }, h('span', null, row.gap_label + ' unmapped')));
      var track = h('div', { class: 'track' });
      var first = row.cells.length ? row.cells[0].start : '';
      map.appendChild(h('div', { class: 'row' }, h('div', { class: 'addr' }, first), track));
      row.cells.forEach(function (c) {
        var el = h('div', {
          class: 'cell ' + c.kind,
          'data-first': c.kind === 'gap' ? null : c.first,
          'data-count': c.kind === 'gap' ? null : c.count
        });
        el.style.left = (100 * c.x / W) + '%';
        el.style.width = (100 * c.w / W) + '%';
        if (c.kind !== 'gap') {
          el.style.background = c.color;
          if (dark(c.color)) el.classList.add('dark');
          if (c.w >= 28) el.textContent = c.label;
        } else if (c.w >= 20) {
          el.textContent = c.label;
        }
        el.title = tooltip(c);
        el._cell = c;
        track.appendChild(el);
        if (c.kind !== 'gap') cells.push(el);
        el.addEventListener('click', function () { select(el); });
      });
    });

    function tooltip(c) {
      if (c.kind === 'gap') return c.start + '-' + c.end + ' unmapped (' + c.label + ')';
      if (c.kind === 'aggregate') return c.start + '-' + c.end + ': ' + c.count + ' regions, mostly ' + c.region_type + ' (RSS ' + size(c.summary.rss) + ')';
      var r = regions[c.detail];
      var s = r.address_hex + '-' + r.end_address_hex + ' ' + r.protection + ' ' + r.region_type + ' ' + size(r.size);
      var n = regionName(r);
      if (n) s += ' ' + n;
      if (r.usage) s += '\nRSS ' + size(r.usage.rss) + ', PSS ' + size(r.usage.pss) + ', swap ' + size(r.usage.swap);
      if (doc.changes) s += '\n' + doc.changes[c.detail];
      return s + '\n' + r.type_reason;
    }

    function row(k, v) { return h('tr', null, h('td', null, k), h('td', null, v)); }
  function monoRow(k, v) { return h('tr', null, h('td', null, k), h('td', { class: 'mono' }, v)); }

    var selected = null;
    function select(el) {
      if (selected) selected.classList.remove('selected');
      selected = el;
      el.classList.add('selected');
      var c = el._cell;
      details.textContent = '';
      if (c.kind === 'gap') {
        details.appendChild(h('h3', null, 'Unmapped gap'));
        details.appendChild(h('table', null, monoRow('Range', c.start + '-' + c.end), row('Size', c.label)));
        return;
      }
      if (c.kind === 'aggregate') {
        var sm = c.summary;
        details.appendChild(h('h3', null, c.count + ' small regions, drawn as one group'));
        var tb = h('table', null, monoRow('Range', c.start + '-' + c.end),
          row('Mapped', size(sm.size)),
          row('Types', sm.types.map(function (k) { return k[0] + ' ' + k[1]; }).join(', ')),
          row('Permissions', sm.perms.join(', ')),
          row('RSS', size(sm.rss)), row('PSS', size(sm.pss)), row('Swap', size(sm.swap)),
          row('Names', sm.names.length ? sm.names.join(', ') + (sm.names_truncated ? ', \u2026' : '') : '-'));
        details.appendChild(tb);
        var list = h('ul', null);
        sm.sample.forEach(function (line) { list.appendChild(h('li', null, line)); });
        if (c.count > sm.sample.length) list.appendChild(h('li', null, '\u2026 and ' + (c.count - sm.sample.length) + ' more'));
        details.appendChild(list);
        return;
      }
      var rg = regions[c.detail];
      details.appendChild(h('h3', null, regionName(rg) || rg.region_type));
      var tbl = h('table', null,
        doc.changes ? row('Change', doc.changes[c.detail]) : null,
        monoRow('Range', rg.address_hex + '-' + rg.end_address_hex),
        row('Size', size(rg.size) + ' (' + rg.size + ' bytes)'),
        row('Permissions', rg.protection),
        row('Type', rg.region_type),
        row('Why', rg.type_reason),
        row('Path', rg.mapped_file === null ? '-' : regionName(rg)),
        row('Name', rg.name || '-'),
        row('Offset', '0x' + rg.offset.toString(16)),
        row('Device / inode', rg.device + ' / ' + rg.inode));
      if (rg.usage) {
        var u = rg.usage;
        tbl.appendChild(row('RSS', size(u.rss)));
        tbl.appendChild(row('PSS', size(u.pss)));
        tbl.appendChild(row('USS', size(u.private_clean + u.private_dirty)));
        tbl.appendChild(row('Swap', size(u.swap)));
        tbl.appendChild(row('Dirty', size(u.shared_dirty + u.private_dirty)));
      }
      if (rg.vm_flags) tbl.appendChild(row('VmFlags', rg.vm_flags.join(' ')));
      doc.highlights.forEach(function (f) {
        if (touches(f, c)) tbl.appendChild(row('Finding', f.severity + ': ' + f.label));
      });
      details.appendChild(tbl);
    }

    function touches(f, c) {
      var s = addr(f.start), e = addr(f.end);
      if (e <= s) e = s + 1n;
      return addr(c.start) < e && s < addr(c.end);
    }

    // Filters: hidden types and the search both dim the cells that do not qualify.
    function refilter() {
      var q = search.value.trim().toLowerCase();
      var matches = 0;
      cells.forEach(function (el) {
        var c = el._cell, visible = false, hit = false;
        if (c.kind === 'region') {
          var r = regions[c.detail];
          visible = !hidden[r.region_type];
          if (visible && q && regionName(r).toLowerCase().indexOf(q) >= 0) { hit = true; matches++; }
        } else {
          visible = c.summary.types.some(function (k) { return !hidden[k[0]]; });
          if (visible && q) {
            c.summary.names.forEach(function (n) { if (n.toLowerCase().indexOf(q) >= 0) { hit = true; matches++; } });
          }
        }
        el.classList.toggle('dim', !visible || (q !== '' && !hit));
        el.classList.toggle('match', q !== '' && hit);
      });
      count.textContent = q ? matches + (matches === 1 ? ' region matches' : ' regions match') : '';
    }
    search.addEventListener('input', refilter);
    reset.addEventListener('click', function () {
      search.value = '';
      hidden = {};
      controls.querySelectorAll('input[type=checkbox]').forEach(function (cb) { cb.checked = true; cb.parentNode.classList.remove('off'); });
      refilter();
    });

    // Findings drawn over the map.
    if (doc.highlights.length) {
      var fs = section('Findings');
      var ul = h('ul', { class: 'findings', id: 'findings' });
      doc.highlights.forEach(function (f, fi) {
        var hits = cells.filter(function (el) { return touches(f, el._cell); });
        hits.forEach(function (el) {
          var mk = h('div', { class: 'marker', title: f.severity + ': ' + f.label });
          mk.style.left = el.style.left;
          mk.style.width = el.style.width;
          mk.style.setProperty('--sev', sevColor(f.severity));
          el.parentNode.appendChild(mk);
          el.classList.add('flagged');
          el.style.setProperty('--sev', sevColor(f.severity));
          el.setAttribute('data-finding', fi);
          el.title = el.title + '\n' + f.severity + ': ' + f.label;
        });
        var sev = h('span', { class: 'sev' }, f.severity);
        sev.style.background = sevColor(f.severity);
        var li = h('li', null, sev, f.start + ' - ' + f.end + ': ' + f.label);
        if (hits.length) li.addEventListener('click', function () { select(hits[0]); hits[0].scrollIntoView({ block: 'center' }); });
        ul.appendChild(li);
      });
      fs.appendChild(ul);
      app.appendChild(fs);
    }

    // The URL fragment can preset the filters: #search=libc&hide=Guard,Reserved (handy for
    // links and for checking the filters headless).
    var params = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i > 0) params[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    if (params.hide) {
      params.hide.split(',').forEach(function (t) {
        var cb = controls.querySelector('input[data-type="' + t + '"]');
        if (cb) { cb.checked = false; cb.parentNode.classList.add('off'); hidden[t] = true; }
      });
    }
    if (params.search) search.value = params.search;
    if (params.hide || params.search) refilter();

    // Start with something useful in the details panel: the first finding, else the heap.
    var start = map.querySelector('.cell.flagged') ||
      cells.filter(function (el) { return el._cell.region_type === 'Heap'; })[0];
    if (start) select(start);

    // Memory by type and by file.
    var key = stats.detailed ? 'rss' : 'virtual_size';
    var keyName = stats.detailed ? 'resident (RSS)' : 'virtual size';
    var charts = h('div', { class: 'charts' });
    var byType = h('div', null, h('h2', null, 'Memory by type, ' + keyName));
    var stack = h('div', { class: 'stack', id: 'type-stack' });
    var total = t[key] || 1;
    var tb = h('div', { class: 'bars' });
    var maxT = Math.max.apply(null, stats.by_type.map(function (x) { return x[key]; }).concat([1]));
    stats.by_type.forEach(function (tf) {
      var seg = h('div', { title: tf.region_type + ': ' + size(tf[key]) });
      seg.style.width = (100 * tf[key] / total) + '%';
      seg.style.background = colors[tf.region_type];
      stack.appendChild(seg);
      var bar = h('div', { class: 'bar' });
      bar.style.width = (100 * tf[key] / maxT) + '%';
      bar.style.background = colors[tf.region_type];
      tb.appendChild(h('div', { class: 'name' }, tf.region_type));
      tb.appendChild(h('div', null, bar));
      tb.appendChild(h('div', { class: 'num' }, size(tf[key])));
    });
    byType.appendChild(stack);
    byType.appendChild(h('div', { style: null }, h('br')));
    byType.appendChild(tb);
    var byFile = h('div', null, h('h2', null, 'Memory by file, ' + keyName));
    var fb = h('div', { class: 'bars', id: 'file-bars' });
    var files = stats.by_file.slice(0, 20);
    var maxF = Math.max.apply(null, files.map(function (x) { return x[key]; }).concat([1]));
    files.forEach(function (ff) {
      var name = ff.path + (ff.deleted ? ' (deleted)' : '');
      var bar = h('div', { class: 'bar' });
      bar.style.width = (100 * ff[key] / maxF) + '%';
      bar.style.background = colors.MappedFile;
      fb.appendChild(h('div', { class: 'name', title: name }, name));
      fb.appendChild(h('div', null, bar));
      fb.appendChild(h('div', { class: 'num' }, size(ff[key])));
    });
    if (!files.length) fb.appendChild(h('div', { class: 'hint' }, 'No mapped files.'));
    byFile.appendChild(fb);
    if (stats.by_file.length > 20) byFile.appendChild(h('p', { class: 'hint' }, (stats.by_file.length - 20) + ' more files in the table below.'));
    charts.appendChild(byType);
    charts.appendChild(byFile);
    app.appendChild(charts);

    // The summary tables.
    function figuresRow(label, f, cls) {
      return h('tr', { class: cls || null }, h('td', null, label), h('td', null, f.count), h('td', null, size(f.virtual_size)),
        h('td', null, size(f.rss)), h('td', null, size(f.pss)), h('td', null, size(f.uss)), h('td', null, size(f.swap)), h('td', null, size(f.dirty)));
    }
    function head(label) {
      return h('tr', null, h('th', null, label), h('th', null, 'Count'), h('th', null, 'Virtual'), h('th', null, 'RSS'),
        h('th', null, 'PSS'), h('th', null, 'USS'), h('th', null, 'Swap'), h('th', null, 'Dirty'));
    }
    var sum = section('Summary by type');
    var st = h('table', { class: 'summary', id: 'summary' }, head('Type'));
    stats.by_type.forEach(function (tf) { st.appendChild(figuresRow(tf.region_type, tf)); });
    st.appendChild(figuresRow('Total', t, 'total'));
    sum.appendChild(st);
    app.appendChild(sum);
    if (stats.by_file.length) {
      var sf = section('Summary by file');
      var ft = h('table', { class: 'summary' }, head('File'));
      stats.by_file.slice(0, 200).forEach(function (ff) { ft.appendChild(figuresRow(ff.path + (ff.deleted ? ' (deleted)' : ''), ff)); });
      sf.appendChild(ft);
      if (stats.by_file.length > 200) sf.appendChild(h('p', { class: 'hint' }, (stats.by_file.length - 200) + ' more files not shown.'));
      app.appendChild(sf);
    }

    // Legend.
    var lg = section('Legend');
    if (doc.diff) {
      var ch = h('div', { class: 'legend', id: 'change-legend' });
      CHANGES.forEach(function (c) {
        var sw = h('span', { class: 'sw' });
        sw.style.background = c[1];
        ch.appendChild(h('span', null, sw, ' ' + c[0]));
      });
      lg.appendChild(ch);
      lg.appendChild(h('p', { class: 'hint' }, 'Unchanged regions keep a pale version of their type\u2019s colour:'));
    }
    var items = h('div', { class: 'legend' });
    doc.palette.types.forEach(function (tc) {
      var sw = h('span', { class: 'sw' });
      sw.style.background = tc[1];
      items.appendChild(h('span', null, sw, ' ' + tc[0]));
    });
    items.appendChild(h('span', null, h('span', { class: 'sw gapsw' }), ' unmapped gap (log-scaled)'));
    lg.appendChild(items);
    var shades = h('div', { class: 'legend' }, 'Shade by permission (Code shown):');
    doc.palette.shades.forEach(function (s) {
      var sw = h('span', { class: 'sw' });
      sw.style.background = mix(colors.Code, s[1]);
      shades.appendChild(h('span', null, sw, ' ' + s[0]));
    });
    var fl = h('span', { class: 'sw' });
    fl.style.outline = '3px solid #c00000';
    fl.style.outlineOffset = '-3px';
    shades.appendChild(h('span', null, fl, ' finding'));
    lg.appendChild(h('br'));
    lg.appendChild(shades);
    lg.appendChild(h('p', { class: 'hint' }, 'Cell widths grow with the logarithm of the region size; gaps of 1 GB or more start a new row. Striped cells group several small neighbouring regions.'));
    app.appendChild(lg);
  }

  var CHANGES = [['added', '#2e9e44'], ['removed', '#d62728'], ['grown', '#ff9f1c'], ['shrunk', '#1f77b4']];

  function signed(b) { return (b > 0 ? '+' : '') + size(b); }

  function drawDiff(doc, app) {
    drawRegions(doc, app);
    var d = doc.diff;
    var sec = section('Changes');
    sec.id = 'changes';
    function refRow(r) {
      return h('tr', null, h('td', null, r.label || r.region_type), h('td', null, '0x' + r.start.toString(16)),
        h('td', null, r.protection), h('td', null, size(r.size)), h('td', null, size(r.rss)));
    }
    function changeRow(c) {
      return h('tr', null, h('td', null, c.after.label || c.after.region_type), h('td', null, '0x' + c.after.start.toString(16)),
        h('td', null, size(c.before.size) + ' \u2192 ' + size(c.after.size)), h('td', null, signed(c.size_delta)), h('td', null, signed(c.rss_delta)));
    }
    [['Added', d.added, refRow, ['Region', 'Start', 'Perms', 'Size', 'RSS']],
     ['Removed', d.removed, refRow, ['Region', 'Start', 'Perms', 'Size', 'RSS']],
     ['Grown', d.grown, changeRow, ['Region', 'Start', 'Size', '\u0394 size', '\u0394 RSS']],
     ['Shrunk', d.shrunk, changeRow, ['Region', 'Start', 'Size', '\u0394 size', '\u0394 RSS']]].forEach(function (g) {
      sec.appendChild(h('h3', null, g[0] + ' (' + g[1].length + ')'));
      if (!g[1].length) return;
      var head = h('tr', null);
      g[3].forEach(function (x) { head.appendChild(h('th', null, x)); });
      var t = h('table', { class: 'summary', 'data-change': g[0].toLowerCase() }, head);
      g[1].slice(0, 100).forEach(function (x) { t.appendChild(g[2](x)); });
      sec.appendChild(t);
      if (g[1].length > 100) sec.appendChild(h('p', { class: 'hint' }, (g[1].length - 100) + ' more not shown.'));
    });
    sec.appendChild(h('h3', null, 'By type'));
    var bt = h('table', { class: 'summary' }, h('tr', null, h('th', null, 'Type'), h('th', null, '\u0394 count'),
      h('th', null, '\u0394 virtual'), h('th', null, '\u0394 RSS'), h('th', null, '\u0394 PSS'), h('th', null, '\u0394 swap')));
    d.by_type.concat([d.total]).forEach(function (g) {
      bt.appendChild(h('tr', { class: g === d.total ? 'total' : null }, h('td', null, g === d.total ? 'Total' : g.key),
        h('td', null, (g.delta.count > 0 ? '+' : '') + g.delta.count), h('td', null, signed(g.delta.virtual_size)),
        h('td', null, signed(g.delta.rss)), h('td', null, signed(g.delta.pss)), h('td', null, signed(g.delta.swap))));
    });
    sec.appendChild(bt);
    var map = document.getElementById('map');
    map.parentNode.parentNode.insertBefore(sec, map.parentNode.nextSibling);
  }

  function mix(color, amount) {
    var c = parseInt(color.slice(1), 16), out = '#';
    [16, 8, 0].forEach(function (sh) {
      var v = (c >> sh) & 255, target = amount >= 0 ? 255 : 0;
      var x = Math.max(0, Math.min(255, Math.round(v + (target - v) * Math.abs(amount))));
      out += (x < 16 ? '0' : '') + x.toString(16);
    });
    return out;
  }

  var SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    var el = document.createElementNS(SVGNS, tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // A line chart of series over time, with an optional fitted line per series.
  function lineChart(id, samples, series, fmt, height) {
    var Wd = 1200, Ht = height || 340, L = 70, R = 20, T = 16, B = 36;
    var svg = s('svg', { class: 'chart', id: id, viewBox: '0 0 ' + Wd + ' ' + Ht });
    var tmax = Math.max(samples[samples.length - 1].t, 1e-9), ymax = 1;
    series.forEach(function (se) { samples.forEach(function (p) { var v = se.get(p); if (v !== null) ymax = Math.max(ymax, v); }); });
    ymax *= 1.08;
    function X(t) { return L + (Wd - L - R) * t / tmax; }
    function Y(v) { return T + (Ht - T - B) * (1 - v / ymax); }
    for (var i = 0; i <= 4; i++) {
      var v = ymax * i / 4;
      svg.appendChild(s('line', { x1: L, x2: Wd - R, y1: Y(v), y2: Y(v), stroke: '#eceff2' }));
      svg.appendChild(s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
      var tt = tmax * i / 4;
      svg.appendChild(s('text', { x: X(tt), y: Ht - 12, 'text-anchor': 'middle' }, tt.toFixed(tmax < 10 ? 1 : 0) + ' s'));
    }
    series.forEach(function (se) {
      var pts = samples.filter(function (p) { return se.get(p) !== null; });
      if (!pts.length) return;
      svg.appendChild(s('polyline', {
        points: pts.map(function (p) { return X(p.t).toFixed(1) + ',' + Y(se.get(p)).toFixed(1); }).join(' '),
        fill: 'none', stroke: se.color, 'stroke-width': 2, 'data-series': se.name
      }));
      if (pts.length <= 200) {
        pts.forEach(function (p) {
          svg.appendChild(s('circle', { cx: X(p.t).toFixed(1), cy: Y(se.get(p)).toFixed(1), r: 2.5, fill: se.color }));
        });
      }
      if (se.slope !== undefined && se.slope !== null && pts.length > 1) {
        // The least-squares line passes through the mean point.
        var mt = 0, mv = 0;
        pts.forEach(function (p) { mt += p.t; mv += se.get(p); });
        mt /= pts.length; mv /= pts.length;
        var perS = se.slope / 60, t0 = pts[0].t, t1 = pts[pts.length - 1].t;
        svg.appendChild(s('line', {
          x1: X(t0), y1: Y(mv + perS * (t0 - mt)), x2: X(t1), y2: Y(mv + perS * (t1 - mt)),
          stroke: se.color, 'stroke-width': 1.5, 'stroke-dasharray': '6 4', 'data-fit': se.name
        }));
      }
    });
    return svg;
  }

  function drawWatch(doc, app) {
    var w = doc.watch, samples = w.samples, v = w.verdict;
    var first = samples[0], last = samples[samples.length - 1];
    document.getElementById('subtitle').textContent = 'PID ' + first.pid + ' \u00b7 ' + samples.length + ' samples over ' +
      last.t.toFixed(1) + ' s' + (first.time ? ' from ' + utc(first.time) : '') + ' \u00b7 RSS ' + size(first.rss) + ' \u2192 ' + size(last.rss);
    var slopes = {};
    if (v) {
      v.components.forEach(function (c) { slopes[c.name] = c; });
      var box = h('div', { class: 'verdict ' + (v.leak_suspected ? 'bad' : 'good'), id: 'verdict' },
        h('strong', null, v.leak_suspected ? 'Leak suspected' : 'No leak suspected'), v.suggestion ? ': ' + v.suggestion : '');
      if (v.grew.length) {
        box.appendChild(h('div', null, 'Grew: ' + v.grew.map(function (g) { return g.what + ' ' + (g.delta >= 0 ? '+' : '') + (g.what === 'mappings' ? g.delta : size(g.delta)); }).join(', ')));
      }
      app.appendChild(box);
    } else {
      app.appendChild(h('div', { class: 'verdict good', id: 'verdict' }, 'No verdict in this log (the watch was interrupted before it ended).'));
    }
    var palette = { rss: '#1b1b1b', anon: '#54a24b', file: '#72b7b2', shmem: '#b279a2', stacks: '#eeca3b' };
    var comps = ['anon', 'file', 'shmem', 'stacks'];
    var series = [{ name: 'rss', color: palette.rss, get: function (p) { return p.rss; } }];
    comps.forEach(function (n) {
      series.push({ name: n, color: palette[n], slope: slopes[n] ? slopes[n].slope_per_min : null,
        get: function (p) { return p[n] === undefined ? null : p[n]; } });
    });
    var sec = section('Memory by component over time');
    sec.appendChild(lineChart('growth', samples, series, size));
    var lg = h('div', { class: 'legend' });
    series.forEach(function (se) {
      var sw = h('span', { class: 'sw' });
      sw.style.background = se.color;
      lg.appendChild(h('span', null, sw, ' ' + se.name + (se.slope !== undefined && se.slope !== null ? ' (fit ' + size(se.slope) + '/min, dashed)' : '')));
    });
    sec.appendChild(lg);
    app.appendChild(sec);
    var ms = section('Mappings over time');
    ms.appendChild(lineChart('mappings', samples, [{ name: 'mappings', color: '#4c78a8', slope: slopes.mappings ? slopes.mappings.slope_per_min : null,
      get: function (p) { return p.mappings; } }], function (x) { return String(Math.round(x)); }, 220));
    app.appendChild(ms);
    if (v && v.components.length) {
      var cs = section('Fitted trends');
      var tbl = h('table', { class: 'summary', id: 'components' }, h('tr', null, h('th', null, 'Component'), h('th', null, 'Slope / min'),
        h('th', null, 'R\u00b2'), h('th', null, 'Growth'), h('th', null, 'Span'), h('th', null, 'Suspected'), h('th', null, 'Why')));
      v.components.forEach(function (c) {
        var isCount = c.name === 'mappings';
        tbl.appendChild(h('tr', null, h('td', null, c.name), h('td', null, isCount ? c.slope_per_min.toFixed(2) : size(c.slope_per_min)),
          h('td', null, c.r2.toFixed(3)), h('td', null, isCount ? String(c.growth) : size(c.growth)), h('td', null, c.span_s.toFixed(1) + ' s'),
          h('td', null, c.suspected ? 'yes' : 'no'), h('td', { style: null }, c.reason)));
      });
      cs.appendChild(tbl);
      app.appendChild(cs);
    }
  }

  try {
    var doc = JSON.parse(document.getElementById('memlink-data').textContent);
    if (doc.format !== 'memlink-map') throw new Error('the embedded data is not a memlink map document');
    var app = document.getElementById('app');
    if (doc.kind === 'regions') drawRegions(doc, app);
    else if (doc.kind === 'watch') drawWatch(doc, app);
    else if (doc.kind === 'diff') drawDiff(doc, app);
    else throw new Error('unknown map kind ' + doc.kind);
    body.setAttribute('data-memlink-ready', '1');
  } catch (e) {
    fail(e);
  }
})();
