// Registration page: live camera capture, uploads without leaving the page, status polling.
// Everything here is an enhancement: without it the forms post and the page shows the status
// on reload.
(function () {
  "use strict";
  const root = document.getElementById("registration");
  const form = document.getElementById("upload-form");
  if (!root) return;
  const message = document.getElementById("upload-message");
  const POLL_MS = 1500;
  const GIVE_UP_MS = 120000;
  let pollTimer = null;
  let pollSince = 0;
  let shownPhotos = null;

  function say(text, isError) {
    if (!message) return;
    message.textContent = text || "";
    message.className = isError ? "error" : "notice";
  }

  function csrfToken() {
    const input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function photoItem(photo) {
    const template = document.getElementById("photo-item-template");
    const item = template.content.firstElementChild.cloneNode(true);
    item.className = "photo " + photo.status;
    item.dataset.photoId = photo.id;
    item.querySelector(".photo-thumb").src = photo.thumbnail_url;
    item.querySelector(".photo-label").textContent = photo.label;
    item.querySelector(".photo-text").textContent = photo.text;
    item.querySelector(".photo-delete").action = photo.delete_url;
    return item;
  }

  function renderPhotos(photos) {
    // Rebuilding the list reloads every thumbnail, so only do it when something changed.
    const key = photos.map((p) => p.id + ":" + p.status).join(",");
    if (key === shownPhotos) return;
    shownPhotos = key;
    document.getElementById("photo-list").replaceChildren(...photos.map(photoItem));
    document.getElementById("photos-empty").hidden = photos.length > 0;
  }

  function render(state) {
    if (state.blocked && !document.getElementById("blocked")) {
      // Ticket revoked or event closed meanwhile: the server-rendered page says it best.
      window.location.reload();
      return;
    }
    document.getElementById("status").className = "reg-status " + state.status;
    document.getElementById("status-text").textContent = state.message;
    document.getElementById("photo-count").textContent = state.photos_in_use;
    renderPhotos(state.photos);
    const capture = document.getElementById("photo");
    const limit = document.getElementById("photo-limit");
    if (capture) capture.hidden = !state.can_upload;
    if (limit) limit.hidden = state.can_upload;
    if (!state.can_upload) stopCamera();
  }

  function announce(state) {
    const newest = state.photos[0];
    if (!newest) return;
    if (newest.status === "accepted") say("Your photo was accepted. " + state.message);
    if (newest.status === "rejected") say("This photo could not be used: " + newest.text, true);
  }

  async function fetchState() {
    const response = await fetch(root.dataset.statusUrl, {
      headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store",
    });
    if (!response.ok) throw new Error("status " + response.status);
    return response.json();
  }

  function poll() {
    clearTimeout(pollTimer);
    pollSince = pollSince || Date.now();
    pollTimer = setTimeout(async () => {
      try {
        const state = await fetchState();
        render(state);
        if (!state.checking) { pollSince = 0; announce(state); return; }
      } catch (err) {
        say("Connection trouble; still trying…", true);
      }
      if (Date.now() - pollSince < GIVE_UP_MS) { poll(); return; }
      pollSince = 0;
      say("Checking takes longer than usual. Your photo is saved: reload this page in a minute.");
    }, POLL_MS);
  }

  function setBusy(busy) {
    if (!form) return;
    document.querySelectorAll("#photo button, #photo input").forEach((el) => { el.disabled = busy; });
  }

  async function upload(blob, filename) {
    const data = new FormData();
    data.append("csrfmiddlewaretoken", csrfToken());
    data.append("photo", blob, filename);
    setBusy(true);
    say("Uploading…");
    try {
      const response = await fetch(form.action, {
        method: "POST", body: data, headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        say(body.message || "The upload failed (" + response.status + "). Please try again.", true);
        return;
      }
      render(body);
      say("Photo received. Checking it…");
      pollSince = Date.now();
      poll();
    } catch (err) {
      say("The photo did not reach us (" + err.message + "). Please try again.", true);
    } finally {
      setBusy(false);
      form.reset();
    }
  }

  // Live camera: preview, then "Take photo" grabs one frame as a JPEG.
  const camera = document.getElementById("camera");
  const video = document.getElementById("camera-preview");
  const canvas = document.getElementById("camera-frame");
  const startButton = document.getElementById("camera-start");
  let stream = null;

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    if (camera) camera.hidden = true;
    if (startButton && navigator.mediaDevices) startButton.hidden = false;
  }

  async function startCamera() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } },
        audio: false,
      });
      video.srcObject = stream;
      camera.hidden = false;
      startButton.hidden = true;
      say("");
    } catch (err) {
      say("The camera could not be opened (" + err.message + "). Use the buttons below.", true);
    }
  }

  function takePhoto() {
    if (!video.videoWidth) { say("The camera is not ready yet.", true); return; }
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => {
      if (blob) upload(blob, "camera.jpg");
      else say("The photo could not be taken. Please try again.", true);
    }, "image/jpeg", 0.92);
  }

  if (form) {
    // getUserMedia exists only on https (or localhost): otherwise the file inputs remain.
    if (startButton && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      startButton.hidden = false;
      startButton.addEventListener("click", startCamera);
      document.getElementById("camera-take").addEventListener("click", takePhoto);
      document.getElementById("camera-stop").addEventListener("click", stopCamera);
      window.addEventListener("pagehide", stopCamera);
    }
    form.querySelectorAll("input[type=file]").forEach((input) => {
      input.addEventListener("change", () => {
        if (input.files.length) upload(input.files[0], input.files[0].name);
      });
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = Array.from(form.querySelectorAll("input[type=file]")).find((i) => i.files.length);
      if (chosen) upload(chosen.files[0], chosen.files[0].name);
      else say("Please take or choose a photo first.", true);
    });
  }
  if (root.dataset.checking) poll();
})();
