/** The compare dialog, loaded the first time it is opened (it replays the scenario twice: few visits use it). */
import { lazyPart } from '../lazyPart';

export const CompareDialog = lazyPart('the compare dialog', () => import('./CompareDialog').then((m) => m.CompareDialog));
