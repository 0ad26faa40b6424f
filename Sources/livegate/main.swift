import LiveGate
