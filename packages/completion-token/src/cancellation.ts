/**
 * Asio's per-operation cancellation (cancellation_signal.hpp, cancellation_type.hpp).
 * The types are a bitmask; an operation declares which it honours and filters
 * what it receives against that set.
 */
export const cancellationType = {
  none: 0,
  /** The operation may leave the object in an unspecified state: only close or destroy it afterwards. */
  terminal: 1,
  /** Partial side effects may remain, the object stays usable. */
  partial: 2,
  /** No observable side effects: the object is exactly as before the operation. */
  total: 4,
  all: 7,
} as const;

export type CancellationType = number;

export type CancellationHandler = (type: CancellationType) => void;

/** The receiving end an operation installs its cancellation handler into. One handler at a time. */
export class CancellationSlot {
  /** @internal */
  handler: CancellationHandler | null = null;

  /** @internal use `CancellationSignal.slot()` */
  constructor(readonly signal: CancellationSignal) {}

  /** Installs the operation's handler, replacing any earlier one. */
  assign(handler: CancellationHandler): void {
    this.handler = handler;
  }

  /** Removes the handler; an operation calls this when it completes, so a later emit is a no-op. */
  clear(): void {
    this.handler = null;
  }

  hasHandler(): boolean {
    return this.handler !== null;
  }

  isConnected(): boolean {
    return true;
  }
}

/** Emits cancellation requests to whatever operation is attached to its slot. */
export class CancellationSignal {
  private readonly theSlot = new CancellationSlot(this);

  slot(): CancellationSlot {
    return this.theSlot;
  }

  /** Requests cancellation of the attached operation; nothing happens if none is attached. */
  emit(type: CancellationType): void {
    const h = this.theSlot.handler;
    if (h) h(type);
  }
}

/**
 * Asio's `cancellation_state` for composed operations: records what was
 * requested (filtered by what the operation supports) and forwards it to the
 * child operation currently in flight.
 */
export class CancellationState {
  private cancelledTypes: CancellationType = cancellationType.none;
  private readonly child = new CancellationSignal();

  constructor(
    /** The slot of the operation's own handler, which this state listens to (undefined: none). */
    readonly parent: CancellationSlot | undefined,
    private filter: CancellationType = cancellationType.terminal,
  ) {
    parent?.assign((type) => {
      const t = type & this.filter;
      if (t === cancellationType.none) return;
      this.cancelledTypes |= t;
      this.child.emit(t);
    });
  }

  /** The types requested so far (0 when none). */
  cancelled(): CancellationType {
    return this.cancelledTypes;
  }

  /** The slot child operations attach to. */
  slot(): CancellationSlot {
    return this.child.slot();
  }

  /** Changes which types are honoured from now on, and forgets what was requested. */
  reset(filter: CancellationType = cancellationType.terminal): void {
    this.filter = filter;
    this.cancelledTypes = cancellationType.none;
  }
}
