// Undo/redo as a bounded stack of entries; what an entry means (a shapes change, a mask patch) is
// the tool's business. A new edit after undos drops the redo branch, as every editor does.

export class History<T> {
  private done: T[] = [];
  private undone: T[] = [];

  constructor(private readonly capacity = 100) {}

  push(entry: T): void {
    this.done.push(entry);
    if (this.done.length > this.capacity) this.done.shift();
    this.undone = [];
  }

  /** The entry to revert, or undefined when there is nothing to undo. */
  undo(): T | undefined {
    const entry = this.done.pop();
    if (entry !== undefined) this.undone.push(entry);
    return entry;
  }

  /** The entry to apply again, or undefined when there is nothing to redo. */
  redo(): T | undefined {
    const entry = this.undone.pop();
    if (entry !== undefined) this.done.push(entry);
    return entry;
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }

  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  clear(): void {
    this.done = [];
    this.undone = [];
  }
}
