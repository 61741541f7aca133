// Gate sounds: a distinct Web Audio tone pattern (and vibration, where the device has it) per
// result, so staff at a noisy turnstile hear the answer without looking. Mute is remembered on
// this device. window.GateSounds.play(kind) with kind admit | deny | review | retry.
(function () {
  "use strict";
  const KEY = "facepass.gate.muted";
  // [frequency Hz, start s, length s, wave]: admit rises, deny buzzes low twice, review asks
  // (two level mid tones), try again is one soft short blip.
  const PATTERNS = {
    admit: [[660, 0, 0.12, "sine"], [880, 0.13, 0.18, "sine"]],
    deny: [[196, 0, 0.22, "square"], [196, 0.3, 0.3, "square"]],
    review: [[523, 0, 0.16, "triangle"], [523, 0.24, 0.16, "triangle"], [659, 0.48, 0.2, "triangle"]],
    retry: [[440, 0, 0.1, "sine"]],
  };
  const VIBRATE = { admit: [80], deny: [250, 120, 250], review: [80, 80, 80, 80, 80], retry: [40] };
  let context = null;
  const played = []; // what each result sounded ("muted:deny" when muted), newest last

  function muted() {
    try {
      return window.localStorage.getItem(KEY) === "1";
    } catch (err) {
      return false;
    }
  }

  function setMuted(value) {
    try {
      window.localStorage.setItem(KEY, value ? "1" : "0");
    } catch (err) { /* private mode: the choice lasts this page only */ }
  }

  // Browsers start audio only after a gesture: the first tap or key unlocks it.
  function unlock() {
    const Audio = window.AudioContext || window.webkitAudioContext;
    if (!Audio) return null;
    if (!context) context = new Audio();
    if (context.state === "suspended") context.resume();
    return context;
  }

  function tone(ctx, [frequency, start, length, wave]) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    const at = ctx.currentTime + start;
    osc.type = wave;
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + length + 0.02);
  }

  function play(kind) {
    const pattern = PATTERNS[kind];
    if (!pattern) return false;
    played.push(muted() ? "muted:" + kind : kind);
    if (muted()) return false;
    if (navigator.vibrate) navigator.vibrate(VIBRATE[kind]);
    const ctx = unlock();
    if (!ctx) return false;
    pattern.forEach((part) => tone(ctx, part));
    return true;
  }

  window.addEventListener("pointerdown", unlock, { once: true });
  window.addEventListener("keydown", unlock, { once: true });
  window.GateSounds = { play: play, muted: muted, setMuted: setMuted, played: played, patterns: PATTERNS };
})();
