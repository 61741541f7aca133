// Registration page: live camera capture, uploads without leaving the page, status polling.
// Everything here is an enhancement: without it the forms post and the page shows the status
// on reload.
(function () {
  "use strict";
  const root = document.getElementById("registration");
  const form = document.getElementById("upload-form");
  if (!root) return;
  const message = document.getElementById("upload-message");
  // The page's words in the page's language (the view translates them).
  const textNode = document.getElementById("register-text");
  const TEXT = textNode ? JSON.parse(textNode.textContent) : {};
  function t(key, params) {
    return (TEXT[key] || key).replace(/%\((\w+)\)s/g, (_, name) => String((params || {})[name]));
  }
  const POLL_MS = 1500;
  const GIVE_UP_MS = 120000;
  let pollTimer = null;
  let pollSince = 0;
  let shownPhotos = null;

  function say(text, isError) {
    if (!message) return;
    message.textContent = text || "";
    message.className = (isError ? "error" : "notice") + " feedback";
    // Feedback belongs next to the camera: bring it into view if the page scrolled away.
    if (text) {
      const box = message.getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) {
        message.scrollIntoView({ block: "nearest" });
      }
    }
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
    document.getElementById("photo-count").textContent = state.photos.length;
    document.getElementById("photos-in-use").textContent = state.photos_in_use;
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
    if (newest.status === "accepted") {
      stopCamera();  // done: the attendee needs no live camera any more
      say(t("accepted") + " " + state.message);
    }
    if (newest.status === "rejected") say(t("rejected") + " " + newest.text, true);
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
        say(t("connection"), true);
      }
      if (Date.now() - pollSince < GIVE_UP_MS) { poll(); return; }
      pollSince = 0;
      say(t("slow"));
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
    say(t("uploading"));
    try {
      const response = await fetch(form.action, {
        method: "POST", body: data, headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        say(body.message || t("upload_failed", { status: response.status }), true);
        return;
      }
      render(body);
      say(t("checking"));
      pollSince = Date.now();
      poll();
    } catch (err) {
      say(t("not_sent", { error: err.message }), true);
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
  const selfieFile = document.getElementById("selfie-file");
  const chooseFile = document.getElementById("choose-file");
  const liveCamera = Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  let stream = null;

  // While the camera is open its own buttons are the only ones: "Take photo", "Close camera".
  function showCamera(open) {
    if (camera) camera.hidden = !open;
    if (startButton) startButton.hidden = open || !liveCamera;
    if (chooseFile) chooseFile.hidden = open;
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    showCamera(false);
  }

  async function startCamera() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } },
        audio: false,
      });
      video.srcObject = stream;
      showCamera(true);
      say("");
      camera.scrollIntoView({ block: "start" });
    } catch (err) {
      showCamera(false);
      say(t("no_camera", { error: err.message }), true);
    }
  }

  function takePhoto() {
    if (!video.videoWidth) { say(t("not_ready"), true); return; }
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => {
      if (blob) upload(blob, "camera.jpg");
      else say(t("not_taken"), true);
    }, "image/jpeg", 0.92);
  }

  if (form) {
    // getUserMedia exists only on https (or localhost): otherwise the file inputs remain.
    if (startButton && liveCamera) {
      // The live camera replaces the phone's capture input: still one primary action.
      startButton.hidden = false;
      if (selfieFile) selfieFile.hidden = true;
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
      else say(t("choose_first"), true);
    });
  }
  if (root.dataset.checking) poll();
})();
