// Face verification (FA-08): the camera shows the customer's face, three pictures a moment
// apart go with the form to the bank, which asks its identity-verification provider.
// Nothing is kept in the browser; the camera is switched off when the pictures are taken.
const start = document.getElementById("face-start");
if (start) {
  const video = document.getElementById("face-video");
  const field = document.getElementById("face_frames");
  const state = (text) => { document.getElementById("face-state").textContent = text; };
  const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
  const FRAMES = 3;

  start.addEventListener("click", async () => {
    let stream = null;
    field.value = "";
    start.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: 320, height: 240, facingMode: "user" }, audio: false,
      });
      video.srcObject = stream;
      await video.play();
      state(start.dataset.moving);
      const canvas = document.createElement("canvas");
      canvas.width = 320;
      canvas.height = 240;
      const frames = [];
      for (let i = 0; i < FRAMES; i += 1) {
        await pause(700);
        canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
        frames.push(canvas.toDataURL("image/jpeg", 0.85));
      }
      field.value = JSON.stringify(frames);
      video.poster = frames[frames.length - 1]; // what was taken stays on screen
      state(start.dataset.done);
    } catch (error) {
      state(start.dataset.failed);
    } finally {
      if (stream) stream.getTracks().forEach((track) => track.stop());
      video.srcObject = null;
      start.disabled = false;
    }
  });
}
