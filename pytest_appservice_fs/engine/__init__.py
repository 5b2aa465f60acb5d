"""The engine: the model, the expectation matrices, the controller that fires each event once
(its triggers are in ``events``), the experiment facade, and the probe's client and package.
It never imports pytest."""
