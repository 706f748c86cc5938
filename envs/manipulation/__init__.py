"""MuJoCo gantry-gripper manipulation envs (``PickPlace-v0``, ``Stack-v0``) and their scripted experts.

Modules: ``base`` (shared scene, observation, stages, reward), ``pick_place``, ``stack``, ``experts``.
Nothing is imported here, so ``import envs.manipulation`` does not load MuJoCo.
"""
