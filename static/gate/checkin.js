// Gate check-in: camera preview, frames posted on Enter or button, big result panel.
(function () {
  "use strict";
  const root = document.getElementById("gate");
  const video = document.getElementById("preview");
  const canvas = document.getElementById("frame");
  const form = document.getElementById("check-form");
  const ticket = document.getElementById("ticket");
  const panel = document.getElementById("result");
  const frameCount = parseInt(root.dataset.frames, 10) || 1;

  function show(kind, title, reason, holder) {
    panel.className = "result " + kind;
    document.getElementById("decision").textContent = title;
    document.getElementById("reason").textContent = reason || "";
    const box = document.getElementById("holder");
    box.hidden = !holder;
    if (holder) {
      document.getElementById("holder-name").textContent = holder.name + " · " + holder.ticket_code;
      const img = document.getElementById("holder-photo");
      if (holder.photo_url) { img.src = holder.photo_url; img.hidden = false; } else { img.hidden = true; }
    }
  }

  async function startCamera() {
    const status = document.getElementById("camera-status");
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      status.textContent = "Camera on";
    } catch (err) {
      status.textContent = "No camera: " + err.message;
    }
  }

  function grab() {
    return new Promise((resolve) => {
      canvas.width = video.videoWidth || 640;
      canvas.height = video.videoHeight || 480;
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(resolve, "image/jpeg", 0.9);
    });
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function check(event) {
    event.preventDefault();
    // With no typed code the server reads the ticket's QR code from the first frame.
    show("busy", "…", "Checking");
    const data = new FormData(form);
    for (let i = 0; i < frameCount; i++) {
      data.append("frames", await grab(), "frame" + i + ".jpg");
      if (i + 1 < frameCount) await sleep(120);
    }
    const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
    try {
      const response = await fetch(root.dataset.checkUrl, {
        method: "POST", body: data, headers: { "Idempotency-Key": key },
        credentials: "same-origin",
      });
      const body = await response.json();
      if (!response.ok) { show("deny", "ERROR", body.message); return; }
      show(body.decision, body.decision.toUpperCase(), body.message, body.holder);
    } catch (err) {
      show("deny", "ERROR", "No answer from the server: " + err.message);
    }
    if (ticket) { ticket.value = ""; ticket.focus(); }
  }

  form.addEventListener("submit", check);
  startCamera();
})();
