// nst_tf serve: the page's script. Plain JavaScript, no build step, no library: it reads the options,
// uploads pictures as raw bodies, starts a job and follows its server-sent events.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { limit: 0, photo: null, style: null, clip: null, job: null, source: null, costs: [] };

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function api(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

function fillSelect(select, values) {
  for (const value of values) select.add(new Option(value, value));
}

async function upload(file, preview, url = "/api/uploads") {
  if (file.size > state.limit) {
    throw new Error(`${file.name} is ${(file.size / 1e6).toFixed(0)} MB; the limit is ${(state.limit / 1e6).toFixed(0)} MB`);
  }
  $("status").textContent = `uploading ${file.name}…`;
  const saved = await api(url, { method: "POST", body: file });
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  const frames = saved.fps ? `, ${saved.frames ? saved.frames + " frames " : ""}at ${saved.fps} fps` : "";
  $("status").textContent = `${file.name}: ${saved.width}x${saved.height}${frames}`;
  return { upload: saved.id };
}

// A photo and a clip exclude each other: picking one forgets the other.
function forgetClip() {
  state.clip = null;
  $("clip-file").value = "";
  $("clip-sample").value = "";
  $("clip-preview").removeAttribute("src");
  $("clip-preview").hidden = true;
  showRoute();
}

// The photo's pickers forget a photo when a clip is picked (an upload or a sample).
function forgetPhoto() {
  state.photo = null;
  $("photo-file").value = "";
  $("photo-sample").value = "";
  $("photo-preview").removeAttribute("src");
}

function wireClip() {
  const input = $("clip-file");
  const sample = $("clip-sample");
  sample.addEventListener("change", () => {
    showError("");
    if (!sample.value) return forgetClip();
    state.clip = { sample: sample.value };
    input.value = "";
    $("clip-preview").src = `/api/samples/${encodeURIComponent(sample.value)}`;
    $("clip-preview").hidden = false;
    forgetPhoto();
    showRoute();
  });
  input.addEventListener("change", async () => {
    showError("");
    if (!input.files.length) return;
    try {
      state.clip = await upload(input.files[0], $("clip-preview"), "/api/clips");
      sample.value = "";
      forgetPhoto();
    } catch (err) {
      forgetClip();
      showError(err.message);
      $("status").textContent = "";
    }
    showRoute();
  });
}

function wirePicker(fileInput, select, preview, key) {
  fileInput.addEventListener("change", async () => {
    showError("");
    if (!fileInput.files.length) return;
    try {
      state[key] = await upload(fileInput.files[0], preview);
      select.value = "";
      if (key === "photo") forgetClip();
    } catch (err) {
      state[key] = null;
      fileInput.value = "";
      preview.removeAttribute("src");
      showError(err.message);
      $("status").textContent = "";
    }
  });
  select.addEventListener("change", () => {
    showError("");
    state[key] = select.value ? { sample: select.value } : null;
    if (select.value) preview.src = `/api/samples/${encodeURIComponent(select.value)}`;
    else preview.removeAttribute("src");
    if (key === "photo" && select.value) forgetClip();
  });
}

function route() {
  return document.querySelector("input[name=route]:checked").value;
}

function showRoute() {
  const optimise = document.querySelector("input[name=route][value=optimise]");
  optimise.disabled = Boolean(state.clip); // a clip goes through a network or a painting
  if (optimise.disabled && optimise.checked) document.querySelector("input[name=route][value=network]").checked = true;
  $("no-clip").hidden = !state.clip;
  $("video-options").hidden = !state.clip;
  $("size").max = state.clip ? state.videoSizes[1] : state.sizes[1]; // a clip's frames are capped smaller
  const r = route();
  $("network-options").hidden = r !== "network";
  $("style-picker").hidden = r === "network";
  $("painting-options").hidden = r !== "painting";
  $("optimise-options").hidden = r !== "optimise";
}

function drawCurve() {
  const costs = state.costs;
  if (!costs.length) return $("curve-line").setAttribute("points", "");
  const logs = costs.map((c) => Math.log10(Math.max(c, 1e-12)));
  const lo = Math.min(...logs), hi = Math.max(...logs), span = hi - lo || 1;
  const n = Math.max(costs.length - 1, 1);
  const points = logs.map((v, i) => `${((300 * i) / n).toFixed(1)},${(95 - (90 * (v - lo)) / span).toFixed(1)}`);
  $("curve-line").setAttribute("points", points.join(" "));
}

function finish(message) {
  $("status").textContent = message;
  $("run").disabled = false;
  $("cancel").disabled = true;
  if (state.source) state.source.close();
  state.source = null;
}

function onEvent(event) {
  if (event.type === "status") $("status").textContent = event.message + "…";
  else if (event.type === "started") $("status").textContent = "running…";
  else if (event.type === "step") {
    $("progress").hidden = false;
    $("iteration").textContent = event.iteration + 1;
    if (event.costs.total !== undefined) {
      state.costs.push(event.costs.total);
      $("cost").textContent = event.costs.total.toPrecision(4);
      drawCurve();
    }
    if (event.snapshot) $("snapshot").src = event.snapshot;
  } else if (event.type === "frame") {
    $("video-progress").hidden = false;
    $("frames-bar").max = event.total;
    $("frames-bar").value = event.done;
    $("frames-done").textContent = event.done;
    $("frames-total").textContent = event.total;
    $("frames-rate").textContent = event.done ? event.fps.toFixed(1) : "—";
    $("status").textContent = "stylizing the clip…";
  } else if (event.type === "result" && event.kind === "video") {
    $("frames-bar").max = event.frames;
    $("frames-bar").value = event.frames; // the input's frame count was an estimate: the bar ends full
    $("result-video").src = `${event.url}?t=${Date.now()}`;
    $("result-video").hidden = false;
    $("snapshot").hidden = true;
    $("download").href = `${event.url}?download=1`;
    $("download").hidden = false;
    $("status").textContent = `clip of ${event.frames} frames, ${event.width}x${event.height}, in ${event.seconds} s`;
  } else if (event.type === "result") {
    $("result").src = `${event.url}?t=${Date.now()}`;
    $("result").hidden = false;
    $("snapshot").hidden = true; // the result replaces the last snapshot (the curve stays)
    $("download").href = `${event.url}?download=1`;
    $("download").hidden = false;
    $("status").textContent = `result ${event.width}x${event.height} in ${event.seconds} s`;
  } else if (event.type === "score") {
    $("score").textContent = event.message ||
      `score: content distance ${event.content_distance.toFixed(4)}, style distance ${event.style_distance.toFixed(4)} (lower is closer)`;
  } else if (event.type === "done") finish($("status").textContent.replace("running…", "done"));
  else if (event.type === "cancelled") finish("cancelled");
  else if (event.type === "error") {
    showError(event.message);
    finish("failed");
  }
}

async function run() {
  showError("");
  const r = route();
  let request = { route: r, content: state.photo, size: Number($("size").value) };
  if (state.clip) {
    const temporal = $("temporal").checked;
    request = { route: "video", via: r, clip: state.clip, size: request.size, frames: Number($("frames").value), temporal };
  }
  if (r === "network") {
    const picked = document.querySelector("input[name=network]:checked");
    request.model = picked ? picked.value : null;
  } else {
    request.style = state.style;
  }
  if (r === "painting") Object.assign(request, { method: $("method").value, alpha: Number($("alpha").value) });
  if (r === "optimise") Object.assign(request, { preset: $("preset").value, iterations: Number($("iterations").value) });
  if (!request.content && !request.clip) return showError("pick a photo or a clip first");
  try {
    const job = await api("/api/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    state.job = job.id;
    state.costs = [];
    drawCurve();
    $("progress").hidden = r !== "optimise";
    $("snapshot").removeAttribute("src");
    $("snapshot").hidden = false;
    $("result").hidden = true;
    $("result-video").hidden = true;
    $("result-video").removeAttribute("src");
    $("video-progress").hidden = true;
    $("download").hidden = true;
    $("score").textContent = "";
    $("run").disabled = true;
    $("cancel").disabled = false;
    $("status").textContent = "queued…";
    state.source = new EventSource(job.events);
    state.source.onmessage = (message) => onEvent(JSON.parse(message.data));
    state.source.onerror = () => { if (state.source) { showError("lost the connection to the server"); finish("failed"); } };
  } catch (err) {
    showError(err.message);
  }
}

async function start() {
  const options = await api("/api/options");
  state.limit = options.upload_limit;
  state.sizes = options.size_range;
  state.videoSizes = options.video.size_range;
  fillSelect($("photo-sample"), options.samples);
  fillSelect($("style-sample"), options.samples);
  fillSelect($("clip-sample"), options.clips);
  fillSelect($("method"), options.methods);
  fillSelect($("preset"), options.presets);
  options.networks.forEach((net, i) => {
    const label = document.createElement("label");
    label.title = `trained on ${net.style}`;
    label.innerHTML = `<input type="radio" name="network"><img alt=""><br>`;
    label.querySelector("input").value = net.name;
    label.querySelector("input").id = `network-${net.name}`;
    label.querySelector("input").checked = i === 0;
    label.querySelector("img").src = net.thumb;
    label.append(net.name.replaceAll("_", " "));
    $("networks").append(label);
  });
  wirePicker($("photo-file"), $("photo-sample"), $("photo-preview"), "photo");
  wirePicker($("style-file"), $("style-sample"), $("style-preview"), "style");
  wireClip();
  $("frames").max = options.video.frame_range[1];
  $("frames").value = options.video.frames;
  document.querySelectorAll("input[name=route]").forEach((input) => input.addEventListener("change", showRoute));
  $("alpha").addEventListener("input", () => { $("alpha-value").textContent = $("alpha").value; });
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", () => state.job && api(`/api/jobs/${state.job}/cancel`, { method: "POST" }).catch((e) => showError(e.message)));
  showRoute();
}

start().catch((err) => showError(err.message));
