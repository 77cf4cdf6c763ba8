import { useEffect } from 'react';
import { labStore } from '../store/labStore';

/** Where typing happens: the keys are the field's own (its text undo), not the lab's. */
function isTextField(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA') return true;
  if (t.tagName !== 'INPUT') return false;
  const type = (t as HTMLInputElement).type;
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file', 'image'].includes(type);
}

/**
 * Undo and redo of the lab's log: Ctrl+Z, Ctrl+Y and Ctrl+Shift+Z (Cmd on macOS), whatever has
 * focus (a button, a checkbox, a select) except a text field.
 */
export function useUndoKeys(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey || isTextField(e.target)) return;
      const k = e.key.toLowerCase();
      if (k === 'z' && !e.shiftKey) labStore.getState().undo();
      else if (k === 'y' || (k === 'z' && e.shiftKey)) labStore.getState().redo();
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}
