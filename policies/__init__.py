"""SB3 policy classes and observation tokenizers of LatentFlow.

``LatentFlowPolicy`` plugs the hybrid core into stock sb3-contrib ``RecurrentPPO``;
``baseline_policy`` gives the matching ``MlpLstmPolicy`` configuration for side-by-side runs.
"""

from policies.baselines import baseline_policy
from policies.latentflow_policy import LatentFlowPolicy
from policies.tokenizers import ObservationTokenizer, TokenBatch

__all__ = ["LatentFlowPolicy", "ObservationTokenizer", "TokenBatch", "baseline_policy"]
