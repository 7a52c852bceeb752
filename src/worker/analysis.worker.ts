/** Analysis worker entry: serves the CNN on the port the signal worker talks to (comlink); nothing else lives here. */
import { expose } from 'comlink';
import { AnalysisService } from './analysis';

self.onmessage = (e: MessageEvent<{ type: 'connect'; port: MessagePort }>) => {
  if (e.data?.type === 'connect') expose(new AnalysisService(), e.data.port);
};
