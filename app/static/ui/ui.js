/* The spectrum explorer (GET /ui): plain JavaScript, no framework, no external resource.
 *
 * State lives in the query string (model, law, its parameters, sigma2, spikes, n, seed), so
 * a view can be shared and a reload restores it. The page calls POST v1/density and
 * v1/outliers on every change (debounced) and v1/simulate on "Simulate" (for the
 * rectangular model Y = S + X: v1/rectangular/..., with the aspect ratio c = p/n, n rows
 * and round(c n) columns, the histogram of singular values binned here), and draws an
 * SVG: density curve, support bands, thresholds, predicted outliers, histogram bars and
 * observed outliers; "Fit" posts pasted eigenvalues to v1/fit (rectangular: singular
 * values, all min(n, p) of them, with the shape their count and c give), shows the fitted
 * law and draws the observed values over it with the fit's edges, thresholds and
 * outliers. Each
 * drawn element carries its data coordinates in data- attributes.
 * Problem+json errors are shown next to the field their `path` points at.
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var DEBOUNCE_MS = 350;
  var BINS = 40;
  var LAW_PARAMS = {
    atoms: ["atoms"],
    uniform: ["low", "high"],
    semicircle: ["center", "radius"],
    marchenko_pastur: ["ratio", "scale"],
    json: ["measure-json"],
  };
  var DEFAULTS = {
    model: "wigner",
    "aspect-ratio": "0.5",
    law: "uniform",
    atoms: "-2, 2",
    low: "-1",
    high: "1",
    center: "0",
    radius: "1",
    ratio: "0.5",
    scale: "1",
    "measure-json": JSON.stringify(
      {
        kind: "mixture",
        components: [
          { weight: 0.5, measure: { kind: "uniform", low: -3, high: -1 } },
          { weight: 0.5, measure: { kind: "semicircle", center: 2, radius: 1 } },
        ],
      },
      null,
      1
    ),
    sigma2: "0.25",
    spikes: "",
    n: "400",
    seed: "1",
  };
  // query-string key of each input (the JSON measure is "measure")
  var FIELDS = ["model", "aspect-ratio", "law", "atoms", "low", "high", "center", "radius",
    "ratio", "scale", "measure-json", "sigma2", "spikes", "n", "seed"];
  var KEY = { "measure-json": "measure", "aspect-ratio": "c" };
  var MODELS = { wigner: true, rectangular: true };

  var el = function (id) { return document.getElementById(id); };
  var form = el("controls");
  var svg = el("plot");
  var state = { theory: null, outliers: null, simulation: null, fit: null };
  var generation = 0;
  var simGeneration = 0;
  var timer = null;
  var lastSignature = null; // the parameters of the last density request
  var lastOk = false; // whether that request succeeded

  // the parameters the density depends on (not n and seed)
  function signature() {
    var law = el("law").value;
    return JSON.stringify([el("model").value, el("aspect-ratio").value, law].concat(
      LAW_PARAMS[law].map(function (f) { return el(f).value; }),
      [el("sigma2").value, el("spikes").value]));
  }

  function rectangular() { return el("model").value === "rectangular"; }

  // the API path of an endpoint for the model shown
  function api(name) { return (rectangular() ? "v1/rectangular/" : "v1/") + name; }

  function key(field) { return KEY[field] || field; }

  /* ---------- URL state ---------- */

  function readUrl() {
    var params = new URLSearchParams(window.location.search);
    FIELDS.forEach(function (field) {
      var value = params.get(key(field));
      var input = el(field);
      if (value === null) value = DEFAULTS[field];
      if (field === "law" && !LAW_PARAMS[value]) value = DEFAULTS.law;
      if (field === "model" && !MODELS[value]) value = DEFAULTS.model;
      input.value = value;
    });
  }

  function writeUrl() {
    var params = new URLSearchParams();
    var law = el("law").value;
    params.set("model", el("model").value);
    if (rectangular()) params.set(key("aspect-ratio"), el("aspect-ratio").value);
    params.set("law", law);
    LAW_PARAMS[law].forEach(function (field) { params.set(key(field), el(field).value); });
    ["sigma2", "spikes", "n", "seed"].forEach(function (field) {
      params.set(field, el(field).value);
    });
    var url = window.location.pathname + "?" + params.toString();
    if (url !== window.location.pathname + window.location.search) {
      window.history.replaceState(null, "", url);
    }
  }

  function showModel() {
    var rect = rectangular();
    el("rect-params").hidden = !rect;
    el("law-legend").textContent = rect ? "Law of the singular values of S" : "Law of H";
    el("n-label").textContent = rect ? "n (rows; columns: round(c n))" : "n";
    el("observed-label").textContent = rect
      ? "Singular values (all min(n, p) of them, at least 10; n x p from their count and c)"
      : "Eigenvalues (comma or space separated, at least 10)";
  }

  function showLaw() {
    var law = el("law").value;
    document.querySelectorAll(".law-params").forEach(function (div) {
      div.hidden = div.getAttribute("data-law") !== law;
    });
  }

  /* ---------- errors ---------- */

  function clearErrors() {
    document.querySelectorAll(".field-error").forEach(function (span) { span.textContent = ""; });
    document.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
    });
  }

  function fieldError(field, message) {
    var span = el("err-" + field);
    if (!span) span = el("err-general");
    span.textContent = span.textContent ? span.textContent + "; " + message : message;
    var input = el(field);
    if (input) input.setAttribute("aria-invalid", "true");
  }

  // JSON pointer of a problem's field error -> the input at fault
  function fieldFor(path) {
    var parts = (path || "").split("/").slice(1);
    var law = el("law").value;
    if (parts[0] === "noise") return parts[1] === "sigma2" ? "sigma2" : "general";
    if (parts[0] === "spikes") return "spikes";
    if (parts[0] === "aspect_ratio") return "aspect-ratio";
    if (parts[0] === "n" || parts[0] === "rows" || parts[0] === "cols") return "n";
    if (parts[0] === "seed") return "seed";
    if (parts[0] === "eigenvalues" || parts[0] === "singular_values") return "observed";
    if (parts[0] === "shape") return "observed";
    if (parts[0] === "measure") {
      if (law === "json") return "measure-json";
      if (law === "atoms") return "atoms";
      var own = LAW_PARAMS[law];
      if (parts.length > 1 && own.indexOf(parts[1]) >= 0) return parts[1];
      return parts.length > 1 && parts[1] === "kind" ? "law" : own[0];
    }
    return "general";
  }

  function showProblem(problem) {
    var errors = (problem && problem.errors) || [];
    if (!errors.length) {
      fieldError("general", (problem && (problem.detail || problem.title)) || "request failed");
      return;
    }
    errors.forEach(function (e) {
      var field = fieldFor(e.path);
      var prefix = field === "general" && e.path ? e.path + ": " : "";
      fieldError(field, prefix + e.message);
    });
  }

  /* ---------- reading the form ---------- */

  function InputError(field, message) { this.field = field; this.message = message; }

  function number(field, options) {
    var text = el(field).value.trim();
    if (text === "" && options && options.optional) return null;
    var value = Number(text);
    if (text === "" || !isFinite(value)) throw new InputError(field, "not a number: \"" + text + "\"");
    return value;
  }

  function numbers(field, optional) {
    var text = el(field).value.trim();
    if (text === "") {
      if (optional) return [];
      throw new InputError(field, "enter at least one number");
    }
    return text.split(/[\s,;]+/).filter(Boolean).map(function (token) {
      var value = Number(token);
      if (!isFinite(value)) throw new InputError(field, "not a number: \"" + token + "\"");
      return value;
    });
  }

  function measure() {
    var law = el("law").value;
    if (law === "atoms") return { kind: "atoms", values: numbers("atoms", false) };
    if (law === "uniform") return { kind: "uniform", low: number("low"), high: number("high") };
    if (law === "semicircle") {
      return { kind: "semicircle", center: number("center"), radius: number("radius") };
    }
    if (law === "marchenko_pastur") {
      return { kind: "marchenko_pastur", ratio: number("ratio"), scale: number("scale") };
    }
    try {
      return JSON.parse(el("measure-json").value);
    } catch (err) {
      throw new InputError("measure-json", "invalid JSON: " + err.message);
    }
  }

  function request() {
    var body = { measure: measure(), noise: { sigma2: number("sigma2") } };
    if (rectangular()) body.aspect_ratio = number("aspect-ratio");
    return body;
  }

  /* ---------- API ---------- */

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(
        function (data) { return { ok: response.ok, data: data }; },
        function () { return { ok: false, data: { detail: "HTTP " + response.status } }; }
      );
    });
  }

  function setStatus(text) { el("status").textContent = text; }

  function update() {
    window.clearTimeout(timer);
    timer = null;
    writeUrl();
    lastSignature = signature();
    lastOk = false;
    var mine = ++generation;
    simGeneration++; // a simulation in flight belongs to the old parameters
    state.simulation = null;
    renderSimulation();
    var base, spikes;
    clearErrors();
    try {
      base = request();
      spikes = numbers("spikes", true);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      fieldError(err.field, err.message);
      setStatus("");
      return Promise.resolve();
    }
    setStatus("computing...");
    var density = post(api("density"), Object.assign({ num: 600 }, base));
    var outliers = spikes.length
      ? post(api("outliers"), Object.assign({ spikes: spikes }, base))
      : Promise.resolve({ ok: true, data: null });
    return Promise.all([density, outliers]).then(
      function (answers) {
        if (mine !== generation) return;
        var failed = answers.filter(function (a) { return !a.ok; });
        if (failed.length) {
          var seen = {};
          failed.forEach(function (a) {
            var problem = a.data || {};
            (problem.errors || []).forEach(function (e) { seen[e.path + e.message] = e; });
            if (!(problem.errors || []).length) showProblem(problem);
          });
          var unique = Object.keys(seen).map(function (k) { return seen[k]; });
          if (unique.length) showProblem({ errors: unique });
          svg.classList.add("stale"); // the plot shows the last valid parameters
          setStatus("");
          return;
        }
        state.theory = answers[0].data;
        state.outliers = answers[1].data;
        lastOk = true;
        svg.classList.remove("stale");
        setStatus("");
        render();
      },
      function (err) {
        if (mine !== generation) return;
        fieldError("general", "request failed: " + err.message);
        setStatus("");
      }
    );
  }

  function simulate() {
    // the theory first when the parameters changed since (or a change is pending)
    var ready = timer !== null || signature() !== lastSignature ? update() : Promise.resolve();
    return ready.then(function () {
      if (lastOk) return runSimulation();
    });
  }

  function runSimulation() {
    var body;
    ["n", "seed", "general"].forEach(function (field) {
      el("err-" + field).textContent = "";
      if (el(field)) el(field).removeAttribute("aria-invalid");
    });
    try {
      body = request();
      body.spikes = numbers("spikes", true);
      body.n = number("n");
      var seed = number("seed", { optional: true });
      if (seed !== null) body.seed = seed;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      fieldError(err.field, err.message);
      return Promise.resolve();
    }
    if (rectangular()) {
      body.rows = body.n;
      body.cols = Math.max(1, Math.round(body.aspect_ratio * body.n));
      delete body.n;
      delete body.aspect_ratio;
    } else {
      body.output = "histogram";
      body.bins = BINS;
    }
    var mine = ++simGeneration;
    var button = el("simulate");
    button.disabled = true;
    setStatus("simulating " + (body.rows ? body.rows + " x " + body.cols : "n = " + body.n) + "...");
    return post(api("simulate"), body).then(
      function (answer) {
        button.disabled = false;
        if (mine !== simGeneration) return;
        setStatus("");
        if (!answer.ok) {
          showProblem(answer.data);
          return;
        }
        state.simulation = answer.data.singular_values ? binned(answer.data) : answer.data;
        if (el("seed").value.trim() === "") {
          el("seed").value = String(answer.data.seed); // keep the draw replayable
          writeUrl();
        }
        render();
      },
      function (err) {
        button.disabled = false;
        fieldError("general", "request failed: " + err.message);
        setStatus("");
      }
    );
  }

  /* ---------- fitting an observed spectrum ---------- */

  // the n x p of count = min(n, p) singular values with p/n nearest c (the longer side
  // rounded), as /v1/plot's observed
  function shapeFor(count, c) {
    if (c <= 1) return { rows: Math.max(count, Math.round(count / c)), cols: count };
    return { rows: count, cols: Math.max(count, Math.round(count * c)) };
  }

  // POST v1/fit, then show the fitted law (its centre as one atom, its sigma2, the
  // outliers' spikes) with the observed values over it; for the rectangular model the
  // values are singular values and the fitted law of S is an atom at 0
  function runFit() {
    var values, body, model = el("model").value;
    ["observed", "aspect-ratio"].forEach(function (field) {
      el("err-" + field).textContent = "";
      el(field).removeAttribute("aria-invalid");
    });
    try {
      values = numbers("observed", false);
      body = { eigenvalues: values, bootstrap: 0 };
      if (rectangular()) {
        var c = number("aspect-ratio");
        if (!(c > 0)) throw new InputError("aspect-ratio", "c = p/n must be > 0");
        body = { singular_values: values, shape: shapeFor(values.length, c), bootstrap: 0 };
      }
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      fieldError(err.field, err.message);
      return Promise.resolve();
    }
    var button = el("fit");
    button.disabled = true;
    setStatus("fitting " + values.length + (body.shape
      ? " singular values (" + body.shape.rows + " x " + body.shape.cols + ")..."
      : " eigenvalues..."));
    return post("v1/fit", body).then(
      function (answer) {
        button.disabled = false;
        setStatus("");
        if (!answer.ok) {
          showProblem(answer.data);
          return;
        }
        state.fit = { values: values, result: answer.data, model: model };
        el("law").value = "atoms";
        el("atoms").value = fmt(answer.data.center, 8);
        el("sigma2").value = fmt(answer.data.sigma2, 8);
        el("spikes").value = answer.data.outliers.map(function (o) { return fmt(o.spike, 8); }).join(", ");
        showLaw();
        update();
      },
      function (err) {
        button.disabled = false;
        fieldError("general", "request failed: " + err.message);
        setStatus("");
      }
    );
  }

  // density histogram of the observed values: [{lower, upper, density}]
  function observedBars(values) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var bins = Math.max(10, Math.min(120, Math.round(Math.sqrt(values.length))));
    var width = (hi - lo) / bins || 1;
    var counts = new Array(bins).fill(0);
    values.forEach(function (v) { counts[Math.min(bins - 1, Math.floor((v - lo) / width))] += 1; });
    return counts.map(function (c, i) {
      return { lower: lo + i * width, upper: lo + (i + 1) * width, density: c / (values.length * width) };
    });
  }

  // a rectangular simulation as the symmetric one's answer: its singular values, pooled
  // over trials, in BINS equal bins (density: counts / (total x width))
  function binned(sim) {
    var values = [].concat.apply([], sim.singular_values).filter(function (v) { return v !== null; });
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (!(hi > lo)) hi = lo + 1;
    var width = (hi - lo) / BINS, counts = [], edges = [];
    for (var i = 0; i <= BINS; i++) edges.push(lo + i * width);
    for (var j = 0; j < BINS; j++) counts.push(0);
    values.forEach(function (v) { counts[Math.min(BINS - 1, Math.floor((v - lo) / width))] += 1; });
    var density = counts.map(function (k) { return k / (values.length * width); });
    return {
      seed: sim.seed, outliers: sim.outliers, comparison: sim.comparison,
      histogram: { edges: edges, density: density, counts: counts },
    };
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = null;
    writeUrl();
    if (signature() === lastSignature) return; // e.g. "change" after "input"
    timer = window.setTimeout(update, DEBOUNCE_MS);
  }

  /* ---------- drawing ---------- */

  function node(name, attrs, parent) {
    var e = document.createElementNS(SVG_NS, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function text(parent, x, y, content, attrs) {
    var t = node("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = content;
    return t;
  }

  function ticks(lo, hi, count) {
    var span = hi - lo;
    if (!(span > 0)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10(span / count)));
    var err = (count * step) / span;
    if (err <= 0.15) step *= 10;
    else if (err <= 0.35) step *= 5;
    else if (err <= 0.75) step *= 2;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined) return "-";
    var d = digits || 4;
    var s = Number(v).toPrecision(d);
    return String(Number(s));
  }

  function render() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var theory = state.theory;
    renderLists();
    if (!theory) {
      text(svg, 450, 220, "no density yet", { "text-anchor": "middle", class: "plot-empty" });
      return;
    }
    var W = 900, H = 440, left = 56, right = 16, top = 18, bottom = 40;
    var out = state.outliers, sim = state.simulation;
    var xs = theory.x.slice();
    var predicted = out ? out.outliers.filter(function (o) { return o.separated && o.location !== null; }) : [];
    predicted.forEach(function (o) { xs.push(o.location); });
    var hist = sim && sim.histogram;
    var observed = sim ? sim.outliers.filter(function (o) { return o.observed !== null; }) : [];
    if (hist) xs.push(hist.edges[0], hist.edges[hist.edges.length - 1]);
    observed.forEach(function (o) { xs.push(o.observed); });
    var fitted = shownFit(), fitBars = fitted ? observedBars(fitted.values) : [];
    if (fitted) xs.push(fitBars[0].lower, fitBars[fitBars.length - 1].upper);
    var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs);
    var pad = (xmax - xmin) * 0.05 || 1;
    xmin -= pad;
    xmax += pad;
    var ymax = Math.max.apply(null, theory.density.filter(function (v) { return v !== null; }));
    if (hist) ymax = Math.max(ymax, Math.max.apply(null, hist.density));
    fitBars.forEach(function (b) { ymax = Math.max(ymax, b.density); });
    if (!(ymax > 0)) ymax = 1;
    ymax *= 1.08;
    var sx = function (x) { return left + ((x - xmin) / (xmax - xmin)) * (W - left - right); };
    var sy = function (y) { return H - bottom - (y / ymax) * (H - top - bottom); };
    svg.setAttribute("data-x-min", xmin);
    svg.setAttribute("data-x-max", xmax);
    svg.setAttribute("data-y-max", ymax);

    // grid and axes
    var axes = node("g", { class: "axis" }, svg);
    ticks(xmin, xmax, 9).forEach(function (t) {
      node("line", { class: "grid-line", x1: sx(t), x2: sx(t), y1: top, y2: H - bottom }, axes);
      node("line", { x1: sx(t), x2: sx(t), y1: H - bottom, y2: H - bottom + 5 }, axes);
      text(axes, sx(t), H - bottom + 18, fmt(t, 3), { "text-anchor": "middle" });
    });
    ticks(0, ymax, 5).forEach(function (t) {
      node("line", { class: "grid-line", x1: left, x2: W - right, y1: sy(t), y2: sy(t) }, axes);
      text(axes, left - 6, sy(t) + 4, fmt(t, 3), { "text-anchor": "end" });
    });
    node("line", { x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }, axes);
    node("line", { x1: left, x2: left, y1: top, y2: H - bottom }, axes);
    text(axes, W - right, H - 6, rectangular() ? "singular value x" : "eigenvalue x",
      { "text-anchor": "end" });
    text(axes, 12, top + 4, "density", { "text-anchor": "start" });

    // support bands
    var bands = node("g", { id: "support-bands" }, svg);
    theory.support.forEach(function (s) {
      node("rect", {
        class: "support-band", x: sx(s.lower), y: top,
        width: Math.max(sx(s.upper) - sx(s.lower), 1), height: H - top - bottom,
        "data-lower": s.lower, "data-upper": s.upper, "data-mass": s.mass,
      }, bands);
    });

    // histogram of the simulation
    if (hist) {
      var bars = node("g", { id: "histogram" }, svg);
      hist.density.forEach(function (d, i) {
        var a = hist.edges[i], b = hist.edges[i + 1];
        node("rect", {
          class: "hist-bar", x: sx(a), y: sy(d), width: Math.max(sx(b) - sx(a), 0.5),
          height: Math.max(sy(0) - sy(d), 0), "data-lower": a, "data-upper": b,
          "data-density": d, "data-count": hist.counts[i],
        }, bars);
      });
    }

    // the observed spectrum and its fit's marks
    if (fitted) {
      var fitMarks = node("g", { id: "fit-marks" }, svg);
      fitBars.forEach(function (b) {
        node("rect", {
          class: "observed-bar", x: sx(b.lower), y: sy(b.density),
          width: Math.max(sx(b.upper) - sx(b.lower), 0.5), height: Math.max(sy(0) - sy(b.density), 0),
          "data-lower": b.lower, "data-upper": b.upper, "data-density": b.density,
        }, fitMarks);
      });
      var r = fitted.result;
      [["fit-edge", r.bulk.lower], ["fit-edge", r.bulk.upper],
        ["fit-threshold", r.edge_threshold], ["fit-threshold", r.lower_edge_threshold]]
        .forEach(function (mark) {
          if (mark[1] === null || mark[1] < xmin || mark[1] > xmax) return;
          node("line", {
            class: mark[0], x1: sx(mark[1]), x2: sx(mark[1]), y1: top, y2: H - bottom, "data-x": mark[1],
          }, fitMarks);
        });
      r.outliers.forEach(function (o) {
        var x = sx(o.value), y = H - bottom;
        node("path", {
          class: "fit-outlier", d: "M" + x + " " + (y - 16) + "l6 8l-6 8l-6 -8z",
          "data-x": o.value, "data-spike": o.spike, "data-p-value": o.p_value,
        }, fitMarks);
      });
    }

    // density curve (null = undefined there: break the line)
    var d = "", pen = false;
    theory.x.forEach(function (x, i) {
      var y = theory.density[i];
      if (y === null) { pen = false; return; }
      d += (pen ? "L" : "M") + sx(x).toFixed(2) + " " + sy(y).toFixed(2);
      pen = true;
    });
    node("path", { class: "density-curve", d: d, "data-points": theory.x.length }, svg);

    // thresholds and predicted outliers
    if (out) {
      var marks = node("g", { id: "outlier-marks" }, svg);
      ["lower", "upper"].forEach(function (side) {
        var t = out.thresholds[side];
        if (t === null || t < xmin || t > xmax) return;
        node("line", {
          class: "threshold", x1: sx(t), x2: sx(t), y1: top, y2: H - bottom,
          "data-x": t, "data-side": side,
        }, marks);
        text(marks, sx(t) + 3, top + 12, "spike threshold " + fmt(t, 3), { class: "threshold-label" });
      });
      predicted.forEach(function (o) {
        var x = sx(o.location), y = H - bottom;
        node("line", { class: "outlier-line", x1: x, x2: x, y1: top, y2: y }, marks);
        node("path", {
          class: "outlier-marker", d: "M" + x + " " + (y - 12) + "l-7 12h14z",
          "data-x": o.location, "data-spike": o.spike,
        }, marks);
      });
    }

    // observed outliers of the simulation
    if (observed.length) {
      var obs = node("g", { id: "observed-outliers" }, svg);
      observed.forEach(function (o) {
        node("circle", {
          class: "observed-outlier", cx: sx(o.observed), cy: H - bottom - 20, r: 5,
          "data-x": o.observed, "data-spike": o.spike,
        }, obs);
      });
    }
  }

  function item(list, content) {
    var li = document.createElement("li");
    li.textContent = content;
    list.appendChild(li);
  }

  function renderLists() {
    var support = el("support-list");
    support.textContent = "";
    if (state.theory) {
      state.theory.support.forEach(function (s) {
        item(support, "[" + fmt(s.lower, 6) + ", " + fmt(s.upper, 6) + "], mass " + fmt(s.mass, 4));
      });
    }
    var outliers = el("outlier-list");
    outliers.textContent = "";
    var out = state.outliers;
    el("thresholds").textContent = out
      ? "Thresholds: spikes below " + fmt(out.thresholds.lower, 5) + " or above " +
        fmt(out.thresholds.upper, 5) + " separate."
      : "No spikes.";
    if (out) {
      out.outliers.forEach(function (o) {
        var overlap = o.overlap !== undefined
          ? ", overlap " + fmt(o.overlap, 3)
          : ", overlaps left " + fmt(o.left_overlap, 3) + ", right " + fmt(o.right_overlap, 3);
        item(outliers, o.separated
          ? "spike " + fmt(o.spike) + ": outlier at " + fmt(o.location, 6) + overlap
          : "spike " + fmt(o.spike) + ": not separated (inside the bulk)");
      });
    }
    renderSimulation();
    renderFit();
  }

  // the fit of the model shown (one of the other model's values is not drawn)
  function shownFit() {
    return state.fit && state.fit.model === el("model").value ? state.fit : null;
  }

  function renderFit() {
    var list = el("fit-list");
    list.textContent = "";
    if (!shownFit()) {
      item(list, "none yet: paste " + (rectangular() ? "singular values" : "eigenvalues") +
        " and press Fit");
      return;
    }
    var r = state.fit.result;
    if (r.model === "rectangular") item(list, r.shape.rows + " x " + r.shape.cols + " matrix");
    item(list, "sigma2 " + fmt(r.sigma2, 6) + " [" + fmt(r.sigma2_interval[0], 5) + ", " +
      fmt(r.sigma2_interval[1], 5) + "] (" + r.sigma2_interval_method + ")");
    item(list, "bulk [" + fmt(r.bulk.lower, 6) + ", " + fmt(r.bulk.upper, 6) + "], threshold " +
      fmt(r.edge_threshold, 6) + " (alpha " + r.alpha + ")");
    r.outliers.forEach(function (o) {
      var overlap = r.model === "rectangular"
        ? "overlaps left " + fmt(o.left_overlap, 3) + ", right " + fmt(o.right_overlap, 3)
        : "overlap " + fmt(o.overlap, 3);
      item(list, "outlier " + fmt(o.value, 6) + " (p = " + fmt(o.p_value, 3) + "): spike " +
        fmt(o.spike, 6) + ", " + overlap);
    });
    item(list, r.verdict.message);
  }

  function renderSimulation() {
    var list = el("simulation-list");
    list.textContent = "";
    var sim = state.simulation;
    if (!sim) {
      item(list, "none yet: press Simulate");
      return;
    }
    item(list, "seed " + sim.seed + ", " + sim.histogram.counts.length + " bins");
    if (sim.comparison && sim.comparison.kolmogorov) {
      item(list, "Kolmogorov distance to the theory: " + fmt(sim.comparison.kolmogorov[0], 3));
    }
    sim.outliers.forEach(function (o) {
      item(list, "spike " + fmt(o.spike) + ": observed " + fmt(o.observed, 6) +
        (o.predicted !== null ? ", predicted " + fmt(o.predicted, 6) : ""));
    });
  }

  /* ---------- wiring ---------- */

  readUrl();
  showModel();
  showLaw();
  el("law").addEventListener("change", function () { showLaw(); schedule(); });
  el("model").addEventListener("change", function () { showModel(); renderFit(); schedule(); });
  FIELDS.forEach(function (field) {
    if (field === "law" || field === "model") return;
    var input = el(field);
    if (field === "n" || field === "seed") {
      input.addEventListener("input", writeUrl);
      return; // simulation parameters: used by "Simulate" only
    }
    input.addEventListener("input", schedule);
    input.addEventListener("change", schedule);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    update();
  });
  el("simulate").addEventListener("click", simulate);
  el("fit").addEventListener("click", runFit);
  render();
  update();
})();
