/**
 * A part of the app that few visits use (the compare dialog, the trace import review), loaded on
 * demand: its code is a chunk of its own (vite.config.ts), fetched the first time it is shown.
 * Until it is there a few words say so where it will be; if it cannot be loaded (offline before
 * the service worker had cached it, an old tab after an update) a line says that, and what to do.
 */
import { Component, lazy, Suspense, type ComponentType, type ReactNode } from 'react';

class LoadFailed extends Component<{ what: string; onClose?: () => void; children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    const { what, onClose } = this.props;
    return (
      <p className="error lazy-failed" role="alert">
        Could not load {what} ({error.message}): reload the page to try again.{' '}
        {onClose && (
          <button className="mini" onClick={onClose} aria-label="Dismiss">
            ✕
          </button>
        )}
      </p>
    );
  }
}

/**
 * The component `load` resolves to, loaded on first render: `what` names it in the loading and
 * failure lines ("the compare dialog"). Its `onClose` prop, if any, also dismisses a failure.
 */
export function lazyPart<P extends { onClose?: () => void }>(what: string, load: () => Promise<ComponentType<P>>): ComponentType<P> {
  const Lazy = lazy(() => load().then((c) => ({ default: c })));
  const Part = (props: P) => (
    <LoadFailed what={what} onClose={props.onClose}>
      <Suspense
        fallback={
          <span className="muted lazy-loading" role="status">
            Loading {what}…
          </span>
        }
      >
        <Lazy {...props} />
      </Suspense>
    </LoadFailed>
  );
  return Part;
}
