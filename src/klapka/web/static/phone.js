// klapka's browser phone: the user portal's "Phone" page, on JsSIP (jssip.min.js).
// The page sets window.klapkaPhone: the user's own SIP account, the SIP core's WebSocket
// ports and the words to show. Calls go through klapka's media relay (WebRTC to the
// browser, plain RTP to desk phones).
(function () {
  "use strict";
  const config = window.klapkaPhone;
  const $ = (id) => document.getElementById(id);
  const word = (key) => (config.words && config.words[key]) || key;
  let ua = null;
  let session = null;
  let held = false;
  let muted = false;
  let audioContext = null;
  const remoteAudio = new Audio();
  remoteAudio.autoplay = true;

  function setStatus(key, state, extra) {
    const element = $("phone-status");
    element.textContent = word(key) + (extra ? " (" + extra + ")" : "");
    element.dataset.state = state;
  }

  function setCall(key, state, who) {
    const element = $("phone-call-state");
    element.textContent = state === "idle" ? "" : word(key) + (who ? ": " + who : "");
    element.dataset.state = state;
    const inCall = state === "talking" || state === "held";
    $("phone-call").hidden = state !== "idle";
    $("phone-answer").hidden = state !== "incoming";
    $("phone-decline").hidden = state !== "incoming";
    $("phone-hangup").hidden = state === "idle" || state === "incoming";
    for (const id of ["phone-hold", "phone-mute", "phone-transfer"]) {
      $(id).hidden = !inCall;
    }
    $("phone-hold").textContent = word(held ? "Resume" : "Hold");
    $("phone-mute").textContent = word(muted ? "Unmute" : "Mute");
  }

  function websocketUrl() {
    const secure = location.protocol === "https:";
    const port = secure ? config.wss : config.ws;
    return port ? (secure ? "wss" : "ws") + "://" + location.hostname + ":" + port : null;
  }

  function domain() {
    return config.domain || location.hostname;
  }

  function start() {
    const url = websocketUrl();
    if (!url) {
      setStatus("SIP over WebSocket is off", "off");
      return;
    }
    setStatus("Connecting", "connecting");
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(url)],
      uri: "sip:" + config.username + "@" + domain(),
      password: config.password,
      authorization_user: config.username,
      display_name: config.display_name,
      register: true,
      session_timers: false,
      user_agent: "klapka web phone (JsSIP " + JsSIP.version + ")",
    });
    ua.on("registered", () => setStatus("Registered", "registered"));
    ua.on("unregistered", () => setStatus("Not registered", "unregistered"));
    ua.on("registrationFailed", (e) => setStatus("Registration failed", "failed", e.cause));
    ua.on("disconnected", () => setStatus("Disconnected", "disconnected"));
    ua.on("newRTCSession", (e) => attach(e.session, e.originator));
    ua.start();
  }

  function mediaConstraints() {
    const id = $("phone-mic").value;
    return { audio: id ? { deviceId: { exact: id } } : true, video: false };
  }

  function callOptions() {
    return {
      mediaConstraints: mediaConstraints(),
      pcConfig: { iceServers: [] },
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
    };
  }

  function who(s) {
    const other = s.remote_identity;
    return (other.display_name ? other.display_name + " " : "") + other.uri.user;
  }

  function listenForAudio(connection) {
    connection.addEventListener("track", (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      remoteAudio.srcObject = stream;
      meter(stream);
    });
  }

  function attach(s, originator) {
    if (session) {
      if (originator === "remote") {
        s.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      }
      return;
    }
    session = s;
    held = false;
    muted = false;
    const name = who(s);
    if (s.connection) {
      listenForAudio(s.connection);
    }
    s.on("peerconnection", (e) => listenForAudio(e.peerconnection));
    if (originator === "remote") {
      setCall("Incoming call", "incoming", name);
      notify(name);
    } else {
      setCall("Calling", "calling", name);
    }
    s.on("progress", () => {
      if (originator === "local") setCall("Ringing", "ringing", name);
    });
    s.on("confirmed", () => {
      setCall("In call", "talking", name);
      listDevices(); // the microphone is allowed now: the devices have their names
    });
    // Held by this phone (the button resumes it) or by the other party (it resumes it).
    const holdChanged = () => {
      const hold = s.isOnHold();
      held = hold.local;
      if (hold.local || hold.remote) setCall("On hold", "held", name);
      else setCall("In call", "talking", name);
    };
    s.on("hold", holdChanged);
    s.on("unhold", holdChanged);
    s.on("ended", () => finished());
    s.on("failed", (e) => finished(e.cause));
  }

  function finished(cause) {
    session = null;
    held = false;
    muted = false;
    setCall("idle", "idle");
    const last = $("phone-last");
    last.textContent = word("Call ended") + (cause ? " (" + cause + ")" : "");
    remoteAudio.srcObject = null;
  }

  function notify(name) {
    if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
      new Notification(word("Incoming call"), { body: name });
    }
  }

  function askToNotify() {
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission();
    }
  }

  // What arrives: its level and rough frequency, shown as a bar (a sound check).
  function meter(stream) {
    try {
      audioContext = audioContext || new AudioContext();
      const analyser = audioContext.createAnalyser();
      analyser.fftSize = 2048;
      audioContext.createMediaStreamSource(stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      const bins = new Float32Array(analyser.frequencyBinCount);
      const element = $("phone-meter");
      const timer = setInterval(() => {
        if (!session) {
          clearInterval(timer);
          element.dataset.level = "0";
          element.style.width = "0%";
          return;
        }
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (const x of samples) sum += x * x;
        const level = Math.sqrt(sum / samples.length);
        analyser.getFloatFrequencyData(bins);
        let best = 0;
        for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
        element.dataset.level = level.toFixed(4);
        element.dataset.hz = String(Math.round((best * audioContext.sampleRate) / analyser.fftSize));
        element.style.width = Math.min(100, Math.round(level * 300)) + "%";
      }, 200);
    } catch (error) {
      console.warn("klapka phone: no level meter", error);
    }
  }

  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    for (const [id, kind] of [["phone-mic", "audioinput"], ["phone-speaker", "audiooutput"]]) {
      const select = $(id);
      const chosen = select.value;
      select.innerHTML = "";
      select.add(new Option(word("Default"), ""));
      for (const device of devices.filter((d) => d.kind === kind)) {
        select.add(new Option(device.label || device.deviceId.slice(0, 8), device.deviceId));
      }
      select.value = chosen;
    }
  }

  function bind() {
    $("phone-call").addEventListener("click", () => {
      askToNotify();
      const number = $("phone-number").value.trim();
      if (number && ua) {
        ua.call("sip:" + number + "@" + domain(), callOptions());
      }
    });
    $("phone-answer").addEventListener("click", () => session && session.answer(callOptions()));
    $("phone-decline").addEventListener("click", () => {
      if (session) session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
    });
    $("phone-hangup").addEventListener("click", () => session && session.terminate());
    $("phone-hold").addEventListener("click", () => {
      if (!session) return;
      if (held) session.unhold();
      else session.hold();
    });
    $("phone-mute").addEventListener("click", () => {
      if (!session) return;
      muted = !muted;
      if (muted) session.mute({ audio: true });
      else session.unmute({ audio: true });
      $("phone-mute").textContent = word(muted ? "Unmute" : "Mute");
      $("phone-mute").dataset.muted = String(muted);
    });
    $("phone-transfer").addEventListener("click", () => {
      const number = $("phone-number").value.trim();
      if (session && number) session.refer("sip:" + number + "@" + domain());
    });
    for (const key of "123456789*0#") {
      $("phone-key-" + (key === "*" ? "star" : key === "#" ? "hash" : key)).addEventListener(
        "click",
        () => {
          if (session && session.isEstablished()) session.sendDTMF(key);
          else $("phone-number").value += key;
        },
      );
    }
    $("phone-speaker").addEventListener("change", () => {
      if (remoteAudio.setSinkId) remoteAudio.setSinkId($("phone-speaker").value);
    });
    if (navigator.mediaDevices) {
      navigator.mediaDevices.addEventListener("devicechange", listDevices);
    }
  }

  function ready() {
    if (!$("phone-call") || typeof JsSIP === "undefined") {
      setTimeout(ready, 50);
      return;
    }
    bind();
    setCall("idle", "idle");
    listDevices();
    start();
    window.addEventListener("beforeunload", () => ua && ua.stop());
  }

  ready();
})();
