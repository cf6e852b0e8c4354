// The HYPE evaluation page (Zhou et al. 2019). Everything comes from the study's own server.
//
// The server issues an evaluator id and a trial plan (image URLs with opaque names, no labels); the
// page preloads a block's images, runs its trials and POSTs every answer, moving on only once the
// server has stored it and said whether it was right (feedback, and the staircase's next step).
// HYPE-time trials: 3-2-1 countdown, the image for the staircase's exposure, noise masks, answer.
// HYPE-infinity trials: the image until the answer.
//
// Timing runs on requestAnimationFrame: the image is shown in one frame's callback and replaced by
// the first mask in the callback of the first frame at least an exposure (less half a frame) later;
// performance.now() in those two callbacks gives the measured exposure sent with the answer.
//
// window.hypeLog lists every event (countdown, image, mask, prompt, answer, ack, feedback, ...) with
// its performance.now() time; <body data-phase data-block data-trial data-exposure> shows the state.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const hypeLog = (window.hypeLog = []);
  const answerKeys = { f: "fake", j: "real" };
  let frameMs = 1000 / 60; // running estimate of the display's frame interval
  let lastFrame = null;

  function note(type, data) {
    const event = Object.assign({ type, t: performance.now() }, data);
    hypeLog.push(event);
    return event;
  }

  function setPhase(phase, state) {
    document.body.dataset.phase = phase;
    Object.assign(document.body.dataset, state || {});
  }

  function show(element, visible) {
    element.hidden = !visible;
  }

  // The staircase of benchbench/hype/staircase.py, from the parameters the server sends: after an
  // error the exposure rises by up_ms, after down_after correct answers in a row it falls by
  // down_ms, within [min_ms, max_ms]. The server checks every requested exposure against it.
  class Staircase {
    constructor(rule) {
      this.rule = rule;
      this.level = rule.start_ms;
      this.streak = 0;
    }

    update(correct) {
      const rule = this.rule;
      if (!correct) {
        this.streak = 0;
        this.level = Math.min(rule.max_ms, this.level + rule.up_ms);
        return this.level;
      }
      this.streak += 1;
      if (this.streak >= rule.down_after) {
        this.streak = 0;
        this.level = Math.max(rule.min_ms, this.level - rule.down_ms);
      }
      return this.level;
    }
  }

  // Resolves with performance.now() of the first frame whose callback `step(now)` returns true;
  // `step` changes the display inside the callback, so the change is painted in that frame.
  function onFrame(step) {
    return new Promise((resolve) => {
      function tick() {
        const now = performance.now();
        if (lastFrame !== null && now - lastFrame > 0 && now - lastFrame < 100) {
          frameMs = 0.8 * frameMs + 0.2 * (now - lastFrame);
        }
        lastFrame = now;
        if (step(now)) resolve(now);
        else requestAnimationFrame(tick);
      }
      requestAnimationFrame(tick);
    });
  }

  // The first frame at least `ms` after `since`, to within half a frame, running `change` in it.
  function after(since, ms, change) {
    return onFrame((now) => {
      if (now - since < ms - frameMs / 2) return false;
      change(now);
      return true;
    });
  }

  async function post(path, body) {
    let response;
    try {
      response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    } catch (error) {
      throw Object.assign(new Error("the server cannot be reached"), { offline: true });
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  function click(button) {
    return new Promise((resolve) => {
      show(button, true);
      button.onclick = () => {
        show(button, false);
        button.onclick = null;
        resolve();
      };
    });
  }

  // An answer is sent until the server stores it; a lost connection asks the evaluator to retry
  // (the server acknowledges a repeated answer once), a refusal ends the study with its reason.
  async function send(body) {
    for (;;) {
      try {
        return await post("/api/answer", body);
      } catch (error) {
        if (!error.offline) throw error;
        note("offline", { trial: body.trial });
        setPhase("offline");
        $("status").textContent = "Your last answer could not be saved: the server cannot be reached. Answers before it are saved.";
        await click($("retry"));
        $("status").textContent = "";
        setPhase("saving");
      }
    }
  }

  function preload(block) {
    return Promise.all(block.trials.map((trial) => new Promise((resolve, reject) => {
      const image = new Image();
      image.alt = "";
      image.hidden = true;
      image.onload = () => image.decode().then(() => resolve(image), () => resolve(image));
      image.onerror = () => reject(new Error(`could not load ${trial.url}`));
      image.src = trial.url;
    })));
  }

  function noiseMasks(count, width, height) {
    return Array.from({ length: count }, () => {
      const mask = new ImageData(width, height);
      for (let i = 0; i < mask.data.length; i += 4) {
        mask.data[i] = Math.random() * 256;
        mask.data[i + 1] = Math.random() * 256;
        mask.data[i + 2] = Math.random() * 256;
        mask.data[i + 3] = 255;
      }
      return mask;
    });
  }

  function awaitAnswer() {
    return new Promise((resolve) => {
      show($("choices"), true);
      function done(answer) {
        document.removeEventListener("keydown", onKey);
        show($("choices"), false);
        resolve(answer);
      }
      function onKey(event) {
        const answer = answerKeys[event.key.toLowerCase()];
        if (answer) done(answer);
      }
      document.addEventListener("keydown", onKey);
      $("fake").onclick = () => done("fake");
      $("real").onclick = () => done("real");
    });
  }

  async function countdown(protocol) {
    const display = $("countdown");
    let since = null;
    for (const value of [3, 2, 1]) {
      const change = () => {
        display.textContent = String(value);
        show(display, true);
        note("countdown", { value });
      };
      since = since === null ? await onFrame((now) => (change(now), true)) : await after(since, protocol.countdown_ms, change);
    }
    return since;
  }

  // Image, then masks; resolves with the measured exposure in ms.
  async function timedExposure(protocol, image, exposure, masks, since) {
    const canvas = $("mask");
    const context = canvas.getContext("2d");
    const shown = await after(since, protocol.countdown_ms, () => {
      show($("countdown"), false);
      show(image, true);
      note("image", { exposure });
    });
    let last = await after(shown, exposure, () => {
      setPhase("mask");
      show(image, false);
      context.putImageData(masks[0], 0, 0);
      show(canvas, true);
      note("mask", { index: 0 });
    });
    const measured = last - shown;
    for (let index = 1; index <= masks.length; index++) {
      last = await after(last, protocol.mask_ms, () => {
        if (index < masks.length) {
          context.putImageData(masks[index], 0, 0);
          note("mask", { index });
        } else {
          show(canvas, false);
          note("masks-end");
        }
      });
    }
    return measured;
  }

  async function feedback(protocol, correct) {
    const box = $("feedback");
    box.textContent = correct ? "Correct" : "Incorrect";
    box.className = correct ? "correct" : "incorrect";
    setPhase("feedback");
    const since = await onFrame(() => (show(box, true), true));
    note("feedback", { correct });
    await after(since, protocol.feedback_ms, () => show(box, false));
  }

  async function runTrial(session, block, index, image, staircase) {
    const protocol = session.protocol;
    const trial = block.trials[index];
    const timed = protocol.mode === "time";
    const exposure = timed ? (trial.fixed_exposure_ms ?? staircase.level) : null;
    setPhase("countdown", { block: `${block.phase}-${block.block}`, trial: String(index), exposure: String(exposure ?? "") });
    let measured = null;
    let prompted;
    if (timed) {
      const masks = noiseMasks(protocol.masks, session.image_size[1], session.image_size[0]);
      const since = await countdown(protocol);
      setPhase("image");
      measured = await timedExposure(protocol, image, exposure, masks, since);
      prompted = note("prompt").t;
    } else {
      prompted = await onFrame(() => (show(image, true), true));
      note("image", { exposure: null });
      note("prompt");
    }
    setPhase("answer");
    const answer = await awaitAnswer();
    const answered = performance.now();
    if (!timed) {
      show(image, false);
      measured = answered - prompted;
    }
    note("answer", { trial: index, answer, requested: exposure, measured });
    setPhase("saving");
    const body = { evaluator: session.evaluator, phase: block.phase, block: block.block, trial: index, image: trial.image, answer,
                   requested_exposure_ms: exposure, measured_exposure_ms: measured, response_ms: answered - prompted,
                   client_time_ms: Date.now() };
    const ack = await send(body);
    note("ack", { phase: block.phase, block: block.block, trial: index, image: trial.image, correct: ack.correct });
    if (timed && trial.fixed_exposure_ms === null) staircase.update(ack.correct);
    await feedback(protocol, ack.correct);
  }

  async function runBlock(session, block, number) {
    setPhase("preloading", { block: `${block.phase}-${block.block}`, trial: "" });
    $("status").textContent = `Loading the images of part ${number} of ${session.blocks.length}…`;
    const images = await preload(block);
    for (const image of images) $("stage").appendChild(image);
    note("preloaded", { phase: block.phase, block: block.block, count: images.length });
    const what = block.phase === "qualification" ? "a qualifying round" : `${block.trials.length} images`;
    $("status").textContent = `Part ${number} of ${session.blocks.length}: ${what}. Press Start when ready.`;
    setPhase("block");
    await click($("start"));
    $("status").textContent = "";
    note("block-start", { phase: block.phase, block: block.block });
    const staircase = session.protocol.staircase ? new Staircase(session.protocol.staircase) : null;
    for (let index = 0; index < block.trials.length; index++) {
      $("progress").textContent = `Image ${index + 1} of ${block.trials.length}`;
      await runTrial(session, block, index, images[index], staircase);
      images[index].remove();
    }
  }

  function describe(session) {
    const protocol = session.protocol;
    $("ratio").textContent = `${Math.round(100 * protocol.real_fraction)}%`;
    $("instructions").textContent = protocol.mode === "time"
      ? "Each image appears after a 3-2-1 countdown for a fraction of a second, followed by noise. Then say whether it was real or fake."
      : "Look at each image as long as you like, then say whether it is real or fake.";
    show($("intro"), true);
    const [height, width] = session.image_size;
    Object.assign($("stage").style, { width: `${width}px`, height: `${height}px` });
    Object.assign($("mask"), { width, height });
  }

  async function main() {
    const session = await post("/api/session", {});
    document.body.dataset.evaluator = session.evaluator;
    note("session", { evaluator: session.evaluator, mode: session.protocol.mode, blocks: session.blocks.length });
    describe(session);
    setPhase("ready");
    for (let number = 1; number <= session.blocks.length; number++) {
      await runBlock(session, session.blocks[number - 1], number);
    }
    $("progress").textContent = "";
    $("status").textContent = "Thank you: every answer is saved. You may close this page.";
    note("done");
    setPhase("done");
  }

  main().catch((error) => {
    note("error", { message: error.message });
    $("status").textContent = `The study stopped: ${error.message}`;
    setPhase("error");
  });
})();
