// The stress control block: a small SharedArrayBuffer between the controller and its workers (run /
// pause / stop, heartbeats, which slot each image is mounted in). This module owns its layout.
export const RUN = 0;
export const PAUSE = 1;
export const STOP = 2;

const STATE = 0;
const PAUSED = 1;
const VIOLATION = 2; // set by a worker that found a wrong byte or an unexpected error
const NIMAGES = 3;
const FOCUS_IMAGE = 4; // the file the controller points every worker at (chaos.ts): image, or -1 for none
const FOCUS_FILE = 5; // and its index in that image's file list
const STOPPING = 6; // an image holding the focus file that the controller is unmounting, or -1 (chaos.ts)
const REFILLS = 7; // refills of the focus file the workers began while an image was stopping
const HEARTBEAT = 8; // [MAX_WORKERS]
const MOUNT_OF = HEARTBEAT + 64; // [MAX_IMAGES] mount slot of image i, or -1 while unmounted
export const MAX_WORKERS = 64;
export const MAX_IMAGES = 64;
const MEMCG_OF = MOUNT_OF + MAX_IMAGES; // [MAX_WORKERS] memory cgroup worker w's reads run in (its container)
const STARTED = MEMCG_OF + MAX_WORKERS; // workers whose task has begun (their modules loaded)
const WORDS = STARTED + 1;

export class Control {
  readonly i32: Int32Array;
  readonly sab: SharedArrayBuffer;
  /** The controller's block (new, no focus yet), or a worker's view of the controller's `sab`. */
  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(WORDS * 4);
    this.i32 = new Int32Array(this.sab);
    if (!sab) {
      Atomics.store(this.i32, FOCUS_IMAGE, -1);
      Atomics.store(this.i32, STOPPING, -1);
    }
  }
  get state(): number {
    return Atomics.load(this.i32, STATE);
  }
  setState(s: number): void {
    Atomics.store(this.i32, STATE, s);
    Atomics.notify(this.i32, STATE);
  }
  /** Worker: announce the pause and sleep until the controller says otherwise. */
  pauseHere(): void {
    Atomics.add(this.i32, PAUSED, 1);
    Atomics.notify(this.i32, PAUSED);
    while (Atomics.load(this.i32, STATE) === PAUSE) Atomics.wait(this.i32, STATE, PAUSE, 50);
  }
  get paused(): number {
    return Atomics.load(this.i32, PAUSED);
  }
  resetPaused(): void {
    Atomics.store(this.i32, PAUSED, 0);
  }
  flagViolation(): void {
    Atomics.store(this.i32, VIOLATION, 1);
  }
  get violation(): boolean {
    return Atomics.load(this.i32, VIOLATION) !== 0;
  }
  /** A worker's task began: the run's clock and the hang watch start when every worker has. */
  started(): void {
    Atomics.add(this.i32, STARTED, 1);
  }
  get startedWorkers(): number {
    return Atomics.load(this.i32, STARTED);
  }
  beat(w: number): void {
    Atomics.add(this.i32, HEARTBEAT + w, 1);
  }
  heartbeat(w: number): number {
    return Atomics.load(this.i32, HEARTBEAT + w);
  }
  set nimages(n: number) {
    Atomics.store(this.i32, NIMAGES, n);
  }
  get nimages(): number {
    return Atomics.load(this.i32, NIMAGES);
  }
  /** The focus (image, file index) the controller set, or image -1 for none. */
  get focusImage(): number {
    return Atomics.load(this.i32, FOCUS_IMAGE);
  }
  get focusFile(): number {
    return Atomics.load(this.i32, FOCUS_FILE);
  }
  setFocus(img: number, file: number): void {
    Atomics.store(this.i32, FOCUS_FILE, file);
    Atomics.store(this.i32, FOCUS_IMAGE, img);
  }
  /** The image holding the focus file that is being unmounted right now, or -1. */
  get stopping(): number {
    return Atomics.load(this.i32, STOPPING);
  }
  setStopping(img: number): void {
    Atomics.store(this.i32, STOPPING, img);
  }
  /** Worker: a refill of the focus file begins (its pages just dropped): wake the controller. */
  refillBegun(): void {
    Atomics.add(this.i32, REFILLS, 1);
    Atomics.notify(this.i32, REFILLS);
  }
  get refills(): number {
    return Atomics.load(this.i32, REFILLS);
  }
  /** Controller: wait (at most `ms`) until a worker begins a refill after `seen` were counted. */
  awaitRefill(seen: number, ms: number): void {
    Atomics.wait(this.i32, REFILLS, seen, ms);
  }
  mountOf(img: number): number {
    return Atomics.load(this.i32, MOUNT_OF + img);
  }
  setMountOf(img: number, m: number): void {
    Atomics.store(this.i32, MOUNT_OF + img, m);
  }
  memcgOf(w: number): number {
    return Atomics.load(this.i32, MEMCG_OF + w);
  }
  setMemcgOf(w: number, id: number): void {
    Atomics.store(this.i32, MEMCG_OF + w, id);
  }
}
