// A clip's player: the box that decided the clip drawn over the video around its time (one
// sampling interval), and the frame strip seeking the video. `vigiaPlayer(root)` attaches to
// one `.clip-player` (the review page calls it for each item it swaps in); on load it attaches
// to those of the page.
(function () {
  function attach(root) {
    if (!root || root.dataset.playerReady) return;
    root.dataset.playerReady = "1";
    var video = root.querySelector("video");
    var box = root.querySelector(".decided-box");
    var dataNode = root.querySelector("script[type='application/json']");
    var data = dataNode ? JSON.parse(dataNode.textContent) : null;
    function place() {
      var near = data && video.videoWidth && Math.abs(video.currentTime - data.time) <= data.span / 2;
      box.hidden = !near;
      if (!near) return;
      // <video> letterboxes its picture (object-fit: contain): find where the picture is.
      var scale = Math.min(video.clientWidth / video.videoWidth, video.clientHeight / video.videoHeight);
      var w = video.videoWidth * scale, h = video.videoHeight * scale;
      var x = (video.clientWidth - w) / 2, y = (video.clientHeight - h) / 2;
      box.style.left = (video.offsetLeft + x + data.left * w) + "px";
      box.style.top = (video.offsetTop + y + data.top * h) + "px";
      box.style.width = (data.width * w) + "px";
      box.style.height = (data.height * h) + "px";
    }
    ["timeupdate", "seeked", "loadedmetadata"].forEach(function (e) { video.addEventListener(e, place); });
    window.addEventListener("resize", place);
    function seek(t) { video.pause(); video.currentTime = t; }
    var button = root.querySelector(".seek-decided");
    if (button) button.addEventListener("click", function () { seek(data.time); });
    root.querySelectorAll(".strip figure[data-time]").forEach(function (f) {
      f.addEventListener("click", function () { seek(parseFloat(f.dataset.time)); });
    });
  }
  window.vigiaPlayer = attach;
  document.querySelectorAll(".clip-player").forEach(function (root) {
    if (!root.closest("#prefetch")) attach(root);
  });
})();
