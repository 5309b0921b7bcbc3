/**
 * Timers the emulator owns, so that `stop()` can cancel every pending one and jest (or the
 * process) can exit. Once cancelled, the set refuses new timers.
 */
export class TimerSet {
  private readonly timers = new Set<NodeJS.Timeout>();
  private cancelled = false;

  get isCancelled(): boolean {
    return this.cancelled;
  }

  /** Runs `callback` after `delayMs`, or never once the set is cancelled. */
  schedule(delayMs: number, callback: () => void): void {
    if (this.cancelled) {
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      callback();
    }, delayMs);
    this.timers.add(timer);
  }

  cancelAll(): void {
    this.cancelled = true;
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
  }
}
