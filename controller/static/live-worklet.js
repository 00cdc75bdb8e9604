// The microphone for a live broadcast (/ui/broadcasts/live), on the audio thread: the input's
// first channel as 16-bit PCM, posted to the page every 20 ms with its peak level.
class LoaMicrophone extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.size = (options.processorOptions && options.processorOptions.frames) || 960;
    this.buf = new Int16Array(this.size);
    this.n = 0;
    this.peak = 0;
  }

  process(inputs) {
    var ch = inputs[0] && inputs[0][0];
    if (!ch) { return true; }
    for (var i = 0; i < ch.length; i++) {
      var s = Math.max(-1, Math.min(1, ch[i]));
      var a = Math.abs(s);
      if (a > this.peak) { this.peak = a; }
      this.buf[this.n++] = s < 0 ? s * 32768 : s * 32767;
      if (this.n === this.size) {
        this.port.postMessage({ pcm: this.buf.buffer, peak: this.peak }, [this.buf.buffer]);
        this.buf = new Int16Array(this.size);
        this.n = 0;
        this.peak = 0;
      }
    }
    return true;
  }
}

registerProcessor("loa-microphone", LoaMicrophone);
