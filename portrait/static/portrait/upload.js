// The upload page with scripts: photos chosen or dropped are drawn as thumbnails here in the
// browser (they never come back from the server), then sent one by one, each with its own
// progress bar, and each shows the server's verdict as soon as it has been checked.
// Without scripts the plain form posts them all at once.
"use strict";

(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var input = document.getElementById("id_photos");
  var dropzone = document.getElementById("dropzone");
  var section = document.getElementById("upload-progress");
  var list = document.getElementById("upload-list");
  var total = document.getElementById("upload-total");
  var summary = document.getElementById("upload-summary");
  var acceptedCount = document.getElementById("accepted-count");
  var buildClone = document.getElementById("build-clone");
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var THUMB = 96;

  var queue = [];
  var sending = false;
  var counted = 0;
  var checked = 0;
  var bytesTotal = 0;
  var bytesDone = 0;

  input.required = false;
  form.classList.add("enhanced");

  function text(name, values) {
    var message = form.dataset[name] || "";
    Object.keys(values || {}).forEach(function (key) {
      message = message.split("__" + key + "__").join(values[key]);
    });
    return message;
  }

  function drawThumbnail(file, holder) {
    var url = URL.createObjectURL(file);
    var image = new Image();
    image.onload = function () {
      var scale = THUMB / Math.max(image.naturalWidth, image.naturalHeight);
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      canvas.setAttribute("aria-hidden", "true");
      holder.appendChild(canvas);
      URL.revokeObjectURL(url);
    };
    image.onerror = function () {
      // HEIC and other formats this browser cannot draw: the server still reads them.
      holder.textContent = text("msgNoPreview");
      URL.revokeObjectURL(url);
    };
    image.src = url;
  }

  function row(file) {
    var item = document.createElement("li");
    item.className = "upload-item";
    var thumb = document.createElement("div");
    thumb.className = "upload-thumb";
    var body = document.createElement("div");
    body.className = "upload-body";
    var name = document.createElement("p");
    name.className = "upload-name";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    var status = document.createElement("p");
    status.className = "upload-status";
    status.textContent = text("msgWaiting");
    body.appendChild(name);
    body.appendChild(bar);
    body.appendChild(status);
    item.appendChild(thumb);
    item.appendChild(body);
    list.appendChild(item);
    drawThumbnail(file, thumb);
    return {file: file, item: item, bar: bar, status: status};
  }

  function updateTotals() {
    total.max = bytesTotal || 1;
    total.value = bytesDone;
    summary.textContent = text("msgSummary", {DONE: checked, TOTAL: counted});
  }

  function finish(entry, ok, message) {
    checked += 1;
    entry.item.classList.add(ok ? "ok" : "refused");
    entry.status.textContent = message;
    entry.bar.value = entry.bar.max;
    updateTotals();
    sending = false;
    next();
  }

  function verdictMessage(body) {
    if (body.accepted) {
      return text("msgAccepted", {NUMBER: body.number});
    }
    var reasons = (body.reasons || []).map(function (reason) { return reason.message; });
    if (!reasons.length && body.detail) {
      reasons = [body.detail];
    }
    return text("msgRefused") + " " + reasons.join("; ");
  }

  function send(entry) {
    var data = new FormData();
    data.append("photo", entry.file, entry.file.name);
    var request = new XMLHttpRequest();
    var sentBefore = bytesDone;
    request.open("POST", form.dataset.uploadUrl);
    request.setRequestHeader("X-CSRFToken", token);
    request.setRequestHeader("Accept", "application/json");
    request.upload.onprogress = function (event) {
      if (event.lengthComputable) {
        var sent = Math.min(entry.file.size, event.loaded);
        entry.bar.value = sent;
        bytesDone = sentBefore + sent;
        updateTotals();
      }
    };
    request.upload.onload = function () {
      entry.status.textContent = text("msgChecking");
    };
    request.onload = function () {
      bytesDone = sentBefore + entry.file.size;
      var body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch (error) {
        finish(entry, false, text("msgFailed"));
        return;
      }
      if (typeof body.accepted_count === "number") {
        acceptedCount.textContent = text("msgCount", {COUNT: body.accepted_count});
        buildClone.hidden = !body.ready;
      }
      finish(entry, Boolean(body.accepted), verdictMessage(body));
    };
    request.onerror = function () {
      bytesDone = sentBefore + entry.file.size;
      finish(entry, false, text("msgFailed"));
    };
    entry.status.textContent = text("msgSending");
    request.send(data);
  }

  function next() {
    if (sending || !queue.length) {
      return;
    }
    var entry = queue.shift();
    if (entry.file.size > maxBytes) {
      bytesDone += entry.file.size;
      finish(entry, false, text("msgRefused") + " " + text("msgTooLarge"));
      return;
    }
    sending = true;
    send(entry);
  }

  function add(files) {
    if (!files || !files.length) {
      return;
    }
    section.hidden = false;
    Array.prototype.forEach.call(files, function (file) {
      counted += 1;
      bytesTotal += file.size;
      queue.push(row(file));
    });
    updateTotals();
    next();
  }

  input.addEventListener("change", function () {
    add(input.files);
    input.value = "";
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    add(input.files);
    input.value = "";
  });

  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function (event) {
      event.preventDefault();
      dropzone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    dropzone.addEventListener(type, function (event) {
      event.preventDefault();
      dropzone.classList.remove("dragging");
    });
  });
  dropzone.addEventListener("drop", function (event) {
    add(event.dataTransfer && event.dataTransfer.files);
  });
})();
