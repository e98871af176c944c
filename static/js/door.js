// Door check-in: read QR codes from the camera (BarcodeDetector where the browser has it,
// jsQR otherwise) and submit each new code at once, so the next scan needs no tap.
(() => {
  const form = document.querySelector("[data-door-form]");
  if (!form) return;
  const input = form.querySelector("input[name=code]");
  const scanner = document.querySelector("[data-scanner]");
  const video = scanner.querySelector("video");
  const canvas = scanner.querySelector("canvas");
  const toggle = form.querySelector("[data-camera-toggle]");
  // A code seen again less than this long after it was last seen is the same ticket still in
  // front of the camera, not a second scan.
  const REPEAT_MS = 4000;
  const COMPACT_MS = 2500;
  let last = { code: "", at: 0 };
  let stream = null;
  let typed = true;
  let compactTimer = null;
  // The page's words for the script, in the person's language (door.html's data-door-strings),
  // English where the page has none; {name} marks a value filled in.
  const words = document.querySelector("[data-door-strings]")?.dataset || {};
  const t = (key, fallback, values = {}) =>
    (words[key] || fallback).replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));

  const submit = (code) => {
    input.value = code;
    typed = false;
    form.requestSubmit();
  };

  const seen = (code) => {
    if (!code) return;
    const now = Date.now();
    const stillInView = code === last.code && now - last.at < REPEAT_MS;
    last = { code, at: now };
    if (!stillInView) submit(code);
  };

  const detectorFor = async () => {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          return async () => {
            const codes = await detector.detect(video);
            return codes.length ? codes[0].rawValue : null;
          };
        }
      } catch (_) {
        // Fall through to jsQR.
      }
    }
    if (!window.jsQR) return null;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    return async () => {
      const width = video.videoWidth;
      const height = video.videoHeight;
      if (!width || !height) return null;
      canvas.width = width;
      canvas.height = height;
      context.drawImage(video, 0, 0, width, height);
      const found = window.jsQR(context.getImageData(0, 0, width, height).data, width, height, {
        inversionAttempts: "dontInvert",
      });
      return found ? found.data : null;
    };
  };

  const loop = (detect) => {
    const tick = async () => {
      if (!stream) return;
      try {
        seen(await detect());
      } catch (_) {
        // A frame that cannot be read yet; the next one will do.
      }
      setTimeout(tick, 150);
    };
    tick();
  };

  const start = async () => {
    const detect = await detectorFor();
    if (!detect || !navigator.mediaDevices?.getUserMedia) return;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (_) {
      return; // No camera, or permission refused: typing or pasting still works.
    }
    video.srcObject = stream;
    await video.play();
    scanner.hidden = false;
    toggle.hidden = false;
    toggle.textContent = t("cameraOff", "Camera off");
    loop(detect);
  };

  const stop = () => {
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    scanner.hidden = true;
    toggle.textContent = t("cameraOn", "Camera on");
  };

  // On a list with re-entry, scans are entries or exits; the button says which.
  const submitButton = form.querySelector("button[type=submit]");
  form.querySelectorAll("input[name=mode]").forEach((radio) =>
    radio.addEventListener("change", () => {
      submitButton.textContent = radio.value === "exit" && radio.checked ? t("letOut", "Let out") : t("checkIn", "Check in");
    }),
  );

  toggle.addEventListener("click", () => (stream ? stop() : start()));
  input.addEventListener("input", () => {
    typed = true;
  });

  // An answer arrived: from the server (htmx swapped it in) or from the offline door
  // (door-offline.js, which sends "door:result").
  const answered = () => {
    const result = document.getElementById("door-result");
    if (!result) return;
    input.value = "";
    // After a typed code the field is ready for the next one (a handheld scanner types too);
    // after a camera scan, focusing it would only pop up the phone's keyboard.
    if (typed) input.focus();
    if (navigator.vibrate) navigator.vibrate(result.classList.contains("admitted") ? 80 : [60, 60, 60]);
    // The answer fills the screen, then shrinks to a banner so the camera can aim at the next ticket.
    clearTimeout(compactTimer);
    compactTimer = setTimeout(() => result.classList.add("compact"), COMPACT_MS);
  };
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id === "door-result") answered();
  });
  document.body.addEventListener("door:result", answered);
  document.addEventListener("click", (event) => {
    const result = event.target.closest("[data-door-result].shown");
    if (result) result.classList.add("compact");
  });

  start();
})();
