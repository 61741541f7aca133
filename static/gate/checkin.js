// Gate check-in: camera preview; a tap, Space/Enter or automatic capture sends the frames (a
// burst over ~1.5 s where the event checks liveness, after a server-drawn head-turn prompt where
// it asks for one); a big ADMIT / DENY / REVIEW / TRY AGAIN panel with the holder, a sound, the
// overrides the server says are possible, then back to "Ready" after a few seconds.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const T = JSON.parse($("gate-texts").textContent);
  const fill = (text, params) => text.replace(/%\((\w+)\)s/g, (_, name) => params[name]);
  const root = $("gate");
  const video = $("preview");
  const canvas = $("frame");
  const form = $("check-form");
  const checkButton = $("check");
  const ticket = $("ticket");
  const panel = $("result");
  const prompt = $("prompt");
  const autoBox = $("auto");
  const autoHint = $("auto-hint");
  const countdown = $("countdown");
  const overrideBox = $("override");
  const overrideReason = $("override-reason");
  const overrideError = $("override-error");
  const overrideButtons = { admit: $("override-admit"), deny: $("override-deny") };
  const muteButton = $("mute");
  const frameCount = parseInt(root.dataset.frames, 10) || 1;
  const frameEvery = parseInt(root.dataset.frameMs, 10) || 120;
  const autoEvery = parseInt(root.dataset.autoMs, 10) || 1500;
  const resultMs = parseInt(root.dataset.resultMs, 10) || 6000;
  const challenge = root.dataset.liveness === "challenge";
  const csrfToken = form.elements.csrfmiddlewaretoken.value;
  // Quiet auto-capture answers meaning the person of the last result has left the frame.
  const CLEARED = ["no_face", "no_ticket"];
  // Keys these elements handle themselves (typing, pressing a button, toggling a box).
  const OWN_KEYS = ["INPUT", "TEXTAREA", "SELECT", "BUTTON", "A"];
  // Before the burst: time to read the prompt and start turning.
  const PROMPT_LEAD_MS = 700;

  const state = {
    camera: false, busy: false, attempt: null, previous: null, shown: 0, quiet: 0, clearAt: 0,
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // The screen below the site header is the gate's: no scrolling to see a result.
  function fitScreen() {
    const top = root.getBoundingClientRect().top + window.scrollY;
    root.style.height = Math.max(320, window.innerHeight - top - 8) + "px";
  }

  function setBusy(busy) {
    state.busy = busy;
    checkButton.disabled = busy || !state.camera;
    Object.values(overrideButtons).forEach((button) => { button.disabled = busy; });
    root.dataset.state = busy ? "busy" : (state.camera ? "ready" : "no-camera");
  }

  function showPanel(kind, title, reason) {
    panel.className = "result " + kind;
    panel.dataset.decision = kind;
    $("decision").textContent = title;
    $("reason").textContent = reason || "";
    $("entry").hidden = true;
    if (kind === "busy" || kind === "ready") return;
    panel.dataset.shown = String(++state.shown);
    if (window.GateSounds) window.GateSounds.play(kind === "error" ? "retry" : kind);
    startClearTimer();
  }

  // --- Back to "Ready" after resultMs, unless staff are writing an override. ---------------
  function overrideInProgress() {
    return !overrideBox.hidden &&
      (document.activeElement === overrideReason || overrideReason.value.trim() !== "");
  }

  function startClearTimer() {
    state.clearAt = Date.now() + resultMs;
    countdown.style.setProperty("--result-ms", resultMs + "ms");
    countdown.className = "countdown";
    void countdown.offsetWidth; // restart the bar's animation
    countdown.className = "countdown running";
  }

  function clearTick() {
    if (!state.clearAt) return;
    if (overrideInProgress() || state.busy) {
      state.clearAt = Date.now() + resultMs; // the full time again once they are done
      countdown.className = "countdown running paused";
      return;
    }
    if (countdown.classList.contains("paused")) startClearTimer();
    if (Date.now() >= state.clearAt) showReady();
  }

  function showReady() {
    state.clearAt = 0;
    countdown.className = "countdown";
    showPanel("ready", T.ready, T.ready_hint);
    panel.dataset.checkin = "";
    showHolder(null);
    state.attempt = null;
    showOverride([]);
    panel.dataset.cleared = String((parseInt(panel.dataset.cleared, 10) || 0) + 1);
  }

  function showHolder(holder) {
    $("holder").hidden = !holder;
    if (!holder) return;
    $("holder-name").textContent = holder.name;
    $("holder-ticket").textContent = fill(T.ticket, { code: holder.ticket_code });
    const img = $("holder-photo");
    img.hidden = !holder.photo_url;
    if (holder.photo_url) img.src = holder.photo_url; else img.removeAttribute("src");
  }

  // Only the overrides the server says are possible now (no "Admit anyway" after "already used").
  function showOverride(actions) {
    overrideButtons.admit.hidden = !actions.includes("admit");
    overrideButtons.deny.hidden = !actions.includes("deny");
    overrideBox.hidden = actions.length === 0;
    overrideError.textContent = "";
  }

  // A recorded check-in, from the gate or from a staff override.
  function showResult(body) {
    const title = T[body.decision] + (body.override ? " " + T.override_suffix : "");
    const reason = body.override
      ? fill(T.override_by, { staff: body.staff, reason: body.message })
      : body.message;
    showPanel(body.decision, title, reason);
    panel.dataset.checkin = String(body.checkin_id);
    if (body.entry) {
      $("entry").textContent = body.entry.text;
      $("entry").hidden = false;
    }
    showHolder(body.holder);
    state.attempt = { url: body.override_url, decision: body.decision, holder: body.holder };
    showOverride(body.actions || []);
  }

  // Unusable input (no face, no ticket, unknown code...): nothing was recorded, try again.
  function showRetry(body, typed) {
    const reason = typed ? body.message + " " + fill(T.typed, { code: typed }) : body.message;
    showPanel("retry", T.retry, reason);
    panel.dataset.checkin = "";
    showHolder(null);
    state.attempt = null;
    showOverride([]);
  }

  function showError(message) {
    showPanel("error", T.not_checked, message);
    panel.dataset.checkin = "";
    showHolder(null);
    state.attempt = null;
    showOverride([]);
  }

  async function post(url, data, headers) {
    const response = await fetch(url, {
      method: "POST", body: data, headers: headers, credentials: "same-origin",
    });
    let body;
    try {
      body = await response.json();
    } catch (err) {
      body = { message: fill(T.http_error, { status: response.status }) };
    }
    return { ok: response.ok, body: body };
  }

  async function startCamera() {
    const status = $("camera-status");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = T.no_camera_https;
      setBusy(false);
      return;
    }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({
        video: { width: 640, height: 480 }, audio: false,
      });
      await video.play();
      if (!video.videoWidth) {
        await new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true }));
      }
      state.camera = true;
      status.textContent = T.camera_on;
    } catch (err) {
      status.textContent = fill(T.no_camera, { error: err.message });
    }
    setBusy(false);
  }

  function grab() {
    return new Promise((resolve) => {
      canvas.width = video.videoWidth || 640;
      canvas.height = video.videoHeight || 480;
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(resolve, "image/jpeg", 0.9);
    });
  }

  function newKey() {
    return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
  }

  // Auto capture answers that record nothing: nobody (or a crowd) in view, or the same person.
  function quiet(body) {
    if (CLEARED.includes(body.reason)) state.previous = null;
    autoHint.textContent = fill(T.auto_said, { message: body.message });
    root.dataset.quiet = String(++state.quiet);
  }

  // A head-turn prompt drawn by the server for this attempt: shown over the camera while the
  // burst is taken; its token goes with the frames. Null (and an error shown) when refused.
  async function askChallenge() {
    const data = new FormData();
    const answer = await post(root.dataset.challengeUrl, data, { "X-CSRFToken": csrfToken });
    if (!answer.ok) {
      showError(answer.body.message);
      return null;
    }
    prompt.textContent = answer.body.prompt;
    prompt.dataset.direction = answer.body.direction;
    prompt.hidden = false;
    await sleep(PROMPT_LEAD_MS);
    return answer.body.challenge_token;
  }

  async function captureInto(data) {
    for (let i = 0; i < frameCount; i++) {
      data.append("frames", await grab(), "frame" + i + ".jpg");
      if (i + 1 < frameCount) await sleep(frameEvery);
    }
  }

  function answered(answer, typed) {
    const body = answer.body;
    if (body.decision === "none") {
      quiet(body);
    } else if (body.decision === "retry") {
      showRetry(body, typed);
    } else if (!answer.ok) {
      showError(body.message);
    } else {
      showResult(body);
      state.previous = body.attempt_id;
      autoHint.textContent = "";
      // Keep what was typed on any failure, so a typo can be fixed instead of retyped.
      if (ticket && body.decision === "admit") ticket.value = "";
    }
  }

  async function check(auto) {
    if (state.busy || !state.camera) return;
    setBusy(true);
    if (!auto) showPanel("busy", "…", T.checking);
    const typed = ticket ? ticket.value.trim() : "";
    try {
      // With no typed code the server reads the ticket's QR code from the first frame.
      const data = new FormData(form);
      if (auto) {
        data.append("auto", "1");
        if (state.previous) data.append("previous", state.previous);
      }
      if (challenge) {
        const token = await askChallenge();
        if (!token) return;
        data.append("challenge_token", token);
      }
      await captureInto(data);
      prompt.hidden = true;
      const answer = await post(root.dataset.checkUrl, data, { "Idempotency-Key": newKey() });
      answered(answer, typed);
    } catch (err) {
      showError(fill(T.no_answer, { error: err.message }));
    } finally {
      prompt.hidden = true;
      setBusy(false);
      if (ticket && !auto) {
        ticket.focus();
        if (ticket.value) ticket.select(); // the next scan or typing replaces a failed code
      }
    }
  }

  async function override(decision) {
    const reason = overrideReason.value.trim();
    if (!reason) {
      overrideError.textContent = T.reason_first;
      overrideReason.focus();
      return;
    }
    if (!state.attempt || state.busy) return;
    setBusy(true);
    try {
      const data = new FormData();
      data.append("decision", decision);
      data.append("reason", reason);
      const answer = await post(state.attempt.url, data, { "X-CSRFToken": csrfToken });
      if (answer.ok) {
        overrideReason.value = "";
        overrideReason.blur();
        showResult(answer.body);
      } else {
        overrideError.textContent = answer.body.message;
      }
    } catch (err) {
      overrideError.textContent = fill(T.no_answer, { error: err.message });
    } finally {
      setBusy(false);
    }
  }

  function autoMayRun() {
    if (!autoBox.checked || state.busy || !state.camera || document.hidden) return false;
    // Staff typing a ticket code or an override reason have the gate to themselves.
    if (ticket && ticket.value.trim()) return false;
    return document.activeElement !== overrideReason && !overrideReason.value.trim();
  }

  async function autoLoop() {
    for (;;) {
      await sleep(autoEvery);
      if (autoMayRun()) await check(true);
    }
  }

  function showMute() {
    const muted = window.GateSounds ? window.GateSounds.muted() : true;
    muteButton.textContent = muted ? T.sound_off : T.sound_on;
    muteButton.setAttribute("aria-pressed", muted ? "true" : "false");
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); check(false); });
  video.addEventListener("click", () => check(false));
  document.addEventListener("keydown", (event) => {
    if (event.key !== " " && event.key !== "Enter") return;
    if (event.repeat || event.ctrlKey || event.altKey || event.metaKey) return;
    if (OWN_KEYS.includes(event.target.tagName) || event.target.isContentEditable) return;
    event.preventDefault();
    check(false);
  });
  autoBox.addEventListener("change", () => {
    autoHint.textContent = autoBox.checked ? T.auto_on : "";
  });
  muteButton.addEventListener("click", () => {
    if (window.GateSounds) window.GateSounds.setMuted(!window.GateSounds.muted());
    showMute();
  });
  // Enter in the reason field must not pick a decision: only the buttons do.
  $("override-form").addEventListener("submit", (event) => event.preventDefault());
  overrideButtons.admit.addEventListener("click", () => override("admit"));
  overrideButtons.deny.addEventListener("click", () => override("deny"));
  window.addEventListener("resize", fitScreen);

  fitScreen();
  showMute();
  setInterval(clearTick, 250);
  startCamera();
  autoLoop();
})();
