/**
 * The application's listeners: `client.on(event, listener)` beside the seed's `onOpen` /
 * `onError` / `onClose` properties. A throwing listener must not break the client's state
 * machine, so every call is guarded and the failure reported as an `error` event instead.
 */
export type Listener<P> = (payload: P) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Add a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const entry = listener as Listener<never>;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /**
   * Call `first` (the seed-style property, when set), then every listener of `event`, each
   * guarded: `onThrow` gets what a listener threw.
   */
  emit<K extends keyof Events>(
    event: K,
    payload: Events[K],
    first: Listener<Events[K]> | null,
    onThrow: (error: unknown) => void,
  ): void {
    const callbacks = [...((this.listeners.get(event) ?? []) as Iterable<Listener<Events[K]>>)];
    if (first !== null) callbacks.unshift(first);
    for (const callback of callbacks) {
      try {
        callback(payload);
      } catch (error) {
        onThrow(error);
      }
    }
  }
}
