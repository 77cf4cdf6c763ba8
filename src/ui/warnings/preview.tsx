import { useEffect, useState } from 'react';
import { createPortal } from 'react-dom';
import { createRoot } from 'react-dom/client';
import { App } from '../App';
import { labStore } from '../../store/labStore';
import { Warnings } from './Warnings';
import '../styles.css';

declare global { interface Window { lab: typeof labStore } }
window.lab = labStore;
function Host() {
  const [el, setEl] = useState<Element | null>(null);
  useEffect(() => setEl(document.querySelector('.vmbar')), []);
  return <>{<App />}{el && createPortal(<Warnings />, el)}</>;
}
createRoot(document.getElementById('root')!).render(<Host />);
