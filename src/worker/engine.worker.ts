/** Worker entry: exposes the engine's typed control API with comlink; nothing else lives here. */
import { expose } from 'comlink';
import { Engine } from './engine';

expose(new Engine());
