// Node options the binary always runs with (its SEA execArgv).
//
// --max-semi-space-size=1: a young generation of 1 MiB. Every socket and file read is a Buffer
// whose memory is freed only when a scavenge finds its wrapper dead; with V8's default young
// generation a download-heavy run holds tens of MB of such dead buffers at its peak. Measured in
// docs/performance.md (peak RSS of bundle create and install).
export const RUNTIME_FLAGS = ['--max-semi-space-size=1'];
