// Gate check-in: camera preview; a tap, Space/Enter or automatic capture sends up to three
// frames; a big ADMIT / DENY / REVIEW panel with the holder; staff override of that result.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const root = $("gate");
  const video = $("preview");
  const canvas = $("frame");
  const form = $("check-form");
  const checkButton = $("check");
  const ticket = $("ticket");
  const panel = $("result");
  const autoBox = $("auto");
  const autoHint = $("auto-hint");
  const overrideBox = $("override");
  const overrideReason = $("override-reason");
  const overrideError = $("override-error");
  const overrideButtons = [$("override-admit"), $("override-deny")];
  const frameCount = parseInt(root.dataset.frames, 10) || 1;
  const autoEvery = parseInt(root.dataset.autoMs, 10) || 1500;
  const csrfToken = form.elements.csrfmiddlewaretoken.value;
  const TITLES = { admit: "ADMIT", deny: "DENY", review: "REVIEW" };
  // Quiet auto-capture answers meaning the person of the last result has left the frame.
  const CLEARED = ["no_face", "no_ticket"];
  // Keys these elements handle themselves (typing, pressing a button, toggling a box).
  const OWN_KEYS = ["INPUT", "TEXTAREA", "SELECT", "BUTTON", "A"];

  const state = { camera: false, busy: false, attempt: null, previous: null, shown: 0, quiet: 0 };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function setBusy(busy) {
    state.busy = busy;
    checkButton.disabled = busy || !state.camera;
    overrideButtons.forEach((button) => { button.disabled = busy; });
    root.dataset.state = busy ? "busy" : (state.camera ? "ready" : "no-camera");
  }

  function showPanel(kind, title, reason) {
    panel.className = "result " + kind;
    panel.dataset.decision = kind;
    $("decision").textContent = title;
    $("reason").textContent = reason || "";
    if (kind !== "busy") panel.dataset.shown = String(++state.shown);
  }

  function showHolder(holder) {
    $("holder").hidden = !holder;
    if (!holder) return;
    $("holder-name").textContent = holder.name;
    $("holder-ticket").textContent = "Ticket " + holder.ticket_code;
    const img = $("holder-photo");
    img.hidden = !holder.photo_url;
    if (holder.photo_url) img.src = holder.photo_url; else img.removeAttribute("src");
  }

  // After a result: "Admit anyway" needs a known ticket holder; neither repeats the decision.
  function showOverride() {
    const attempt = state.attempt;
    const canAdmit = Boolean(attempt && attempt.holder && attempt.decision !== "admit");
    const canDeny = Boolean(attempt && attempt.decision !== "deny");
    $("override-admit").hidden = !canAdmit;
    $("override-deny").hidden = !canDeny;
    overrideBox.hidden = !(canAdmit || canDeny);
    overrideError.textContent = "";
  }

  // A recorded check-in, from the gate or from a staff override.
  function showResult(body) {
    const title = TITLES[body.decision] + (body.override ? " (override)" : "");
    const reason = body.override ? "Staff override by " + body.staff + ": " + body.message : body.message;
    showPanel(body.decision, title, reason);
    panel.dataset.checkin = String(body.checkin_id);
    showHolder(body.holder);
    state.attempt = { url: body.override_url, decision: body.decision, holder: body.holder };
    showOverride();
  }

  function showError(message) {
    showPanel("error", "NOT CHECKED", message);
    panel.dataset.checkin = "";
    showHolder(null);
    state.attempt = null;
    showOverride();
  }

  async function post(url, data, headers) {
    const response = await fetch(url, {
      method: "POST", body: data, headers: headers, credentials: "same-origin",
    });
    let body;
    try {
      body = await response.json();
    } catch (err) {
      body = { message: "The server answered HTTP " + response.status + "." };
    }
    return { ok: response.ok, body: body };
  }

  async function startCamera() {
    const status = $("camera-status");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = "No camera: open this page over HTTPS in a browser with camera access.";
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
      status.textContent = "Camera on";
    } catch (err) {
      status.textContent = "No camera: " + err.message;
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
    autoHint.textContent = "Automatic capture: " + body.message;
    root.dataset.quiet = String(++state.quiet);
  }

  async function check(auto) {
    if (state.busy || !state.camera) return;
    setBusy(true);
    if (!auto) showPanel("busy", "…", "Checking");
    try {
      // With no typed code the server reads the ticket's QR code from the first frame.
      const data = new FormData(form);
      if (auto) {
        data.append("auto", "1");
        if (state.previous) data.append("previous", state.previous);
      }
      for (let i = 0; i < frameCount; i++) {
        data.append("frames", await grab(), "frame" + i + ".jpg");
        if (i + 1 < frameCount) await sleep(120);
      }
      const answer = await post(root.dataset.checkUrl, data, { "Idempotency-Key": newKey() });
      if (answer.body.decision === "none") {
        quiet(answer.body);
      } else if (!answer.ok) {
        showError(answer.body.message);
      } else {
        showResult(answer.body);
        state.previous = answer.body.attempt_id;
        autoHint.textContent = "";
        if (ticket) ticket.value = "";
      }
    } catch (err) {
      showError("No answer from the server: " + err.message);
    } finally {
      setBusy(false);
      if (ticket && !auto) ticket.focus();
    }
  }

  async function override(decision) {
    const reason = overrideReason.value.trim();
    if (!reason) {
      overrideError.textContent = "Give a reason first: it is recorded with your name.";
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
        showResult(answer.body);
      } else {
        overrideError.textContent = answer.body.message;
      }
    } catch (err) {
      overrideError.textContent = "No answer from the server: " + err.message;
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
    autoHint.textContent = autoBox.checked ? "Automatic capture on." : "";
  });
  // Enter in the reason field must not pick a decision: only the buttons do.
  $("override-form").addEventListener("submit", (event) => event.preventDefault());
  $("override-admit").addEventListener("click", () => override("admit"));
  $("override-deny").addEventListener("click", () => override("deny"));

  startCamera();
  autoLoop();
})();
