"""MJCF of the tabletop scene (written for this project) and the names and sizes the env, rules and expert share.

The scene, in metres with the table top at ``z = 0``:

* a table (``0.6 x 0.6`` top) with a rim :data:`RIM_HEIGHT` high around its edge, so pushed or dropped objects stay on
  it and every object coordinate stays bounded (the legs are visual only; the floor collides too, as a backstop);
* a two-finger gripper: body ``gripper`` with a free joint, welded (equality ``weld``) to the mocap body ``mocap``
  that actions move; gravity compensated, so it hangs where the mocap is. Its origin is the grasp point between the
  finger pads. Two slide-joint fingers (``finger_l`` / ``finger_r``, ``0``-``0.04`` each, the pad gap is their sum)
  are driven by position actuators that share one command;
* three objects with free joints: a red cube, a green cylinder and a blue (flat, square) block;
* three goal regions, flat visual-only markers (no collision) on mocap bodies, so their positions are part of
  MuJoCo's integration state: a yellow circle, a blue square and a pink circle;
* the fixed camera ``overhead`` (a front view from above, the table filling a 64x64 frame).

Contacts are few: objects touch the table, each other, the finger pads and the palm; the two fingers ignore each other.
"""

from __future__ import annotations

import numpy as np

TIMESTEP = 0.002
"""Physics time step (s)."""
FRAME_SKIP = 20
"""Physics steps per env step, so an env step is 0.04 s (25 Hz)."""

OBJECTS: tuple[str, ...] = ("red cube", "green cylinder", "blue block")
"""Object names as instructions say them; index ``i`` is body ``obj{i}``."""
OBJECT_HALF_HEIGHT = np.array([0.02, 0.02, 0.0125])
"""Resting height of each object's centre above the table (its half height)."""
OBJECT_HALF_WIDTH = np.array([0.02, 0.02, 0.025])
"""Half width of each object across the fingers when axis-aligned (m)."""

GOALS: tuple[str, ...] = ("yellow circle", "blue square", "pink circle")
"""Goal-region names as instructions say them; index ``j`` is mocap body ``goal{j}``."""
GOAL_IS_SQUARE = np.array([False, True, False])
"""Circles contain points within ``GOAL_HALF_SIZE`` of the centre (xy); squares within it along x and y."""
GOAL_HALF_SIZE = 0.045
"""Radius of the circles and half side of the squares (m)."""
GOAL_Z = 0.0006
"""Height of the goal markers' centres (they are 1 mm thick)."""

FINGER_MAX = 0.04
"""Travel of each finger (m); the pad gap ranges over ``0``-``0.08``."""
GRIPPER_Z_MIN = 0.022
"""Lowest mocap height: the finger tips (0.019 below the grasp point) stay 3 mm above the table."""
WORKSPACE_LOW = np.array([-0.25, -0.25, GRIPPER_Z_MIN])
"""Lower corner of the box the mocap (gripper target) is clipped to."""
WORKSPACE_HIGH = np.array([0.25, 0.25, 0.25])
"""Upper corner of the mocap box."""
GRIPPER_HOME = np.array([0.0, -0.12, 0.15])
"""Gripper position at reset (before the reset's small xy noise)."""

RIM_HEIGHT = 0.02
"""Height (m) of the rim around the table top (its inner faces are the table's edges, ``|x|, |y| = 0.3``)."""
RIM_THICKNESS = 0.01
"""Thickness (m) of the rim walls."""

CAMERA = "overhead"
"""Name of the fixed camera in the MJCF."""


def _object_xml() -> str:
    colours = ("0.85 0.15 0.15 1", "0.15 0.7 0.2 1", "0.15 0.3 0.85 1")
    shapes = (
        'type="box" size="0.02 0.02 0.02"',
        'type="cylinder" size="0.02 0.02"',
        'type="box" size="0.025 0.025 0.0125"',
    )
    bodies = []
    for i, (colour, shape) in enumerate(zip(colours, shapes, strict=True)):
        x = -0.1 + 0.1 * i
        bodies.append(
            f'    <body name="obj{i}" pos="{x} 0.1 {OBJECT_HALF_HEIGHT[i]}">\n'
            f'      <freejoint name="obj{i}"/>\n'
            f'      <geom name="obj{i}" {shape} mass="0.05" rgba="{colour}" class="object"/>\n'
            "    </body>"
        )
    return "\n".join(bodies)


def _goal_xml() -> str:
    colours = ("0.95 0.85 0.1 1", "0.2 0.45 1 1", "1 0.45 0.75 1")
    bodies = []
    for j, colour in enumerate(colours):
        if GOAL_IS_SQUARE[j]:
            shape = f'type="box" size="{GOAL_HALF_SIZE} {GOAL_HALF_SIZE} 0.0005"'
        else:
            shape = f'type="cylinder" size="{GOAL_HALF_SIZE} 0.0005"'
        x = -0.12 + 0.12 * j
        bodies.append(
            f'    <body name="goal{j}" mocap="true" pos="{x} -0.1 {GOAL_Z}">\n'
            f'      <geom name="goal{j}" {shape} rgba="{colour}" contype="0" conaffinity="0"/>\n'
            "    </body>"
        )
    return "\n".join(bodies)


def _rim_xml() -> str:
    half, h, t = 0.3, RIM_HEIGHT / 2, RIM_THICKNESS / 2
    walls = (
        ("rim_px", f"{half + t} 0 {h}", f"{t} {half + 2 * t} {h}"),
        ("rim_nx", f"{-half - t} 0 {h}", f"{t} {half + 2 * t} {h}"),
        ("rim_py", f"0 {half + t} {h}", f"{half} {t} {h}"),
        ("rim_ny", f"0 {-half - t} {h}", f"{half} {t} {h}"),
    )
    return "\n".join(
        f'    <geom name="{name}" type="box" size="{size}" pos="{pos}" rgba="0.6 0.5 0.4 1"/>'
        for name, pos, size in walls
    )


TABLETOP_XML = f"""<mujoco model="neural_gym_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" integrator="implicitfast" cone="elliptic" impratio="5"/>
  <visual>
    <global offwidth="640" offheight="640"/>
    <quality shadowsize="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
  </visual>
  <default>
    <geom contype="1" conaffinity="1" condim="4" friction="1 0.01 0.001" solref="0.01 1"/>
    <default class="visual">
      <geom contype="0" conaffinity="0"/>
    </default>
    <default class="object">
      <geom condim="4" friction="1 0.01 0.001"/>
    </default>
  </default>
  <worldbody>
    <light name="top" pos="0 0 1.2" dir="0 0 -1" diffuse="0.4 0.4 0.4" castshadow="false"/>
    <camera name="{CAMERA}" pos="0 -0.5 0.55" xyaxes="1 0 0 0 0.74 0.673" fovy="45"/>
    <geom name="floor" type="plane" size="1.5 1.5 0.1" pos="0 0 -0.7" rgba="0.35 0.35 0.38 1"/>
    <geom name="table" type="box" size="0.3 0.3 0.02" pos="0 0 -0.02" rgba="0.72 0.62 0.5 1"/>
{_rim_xml()}
    <geom name="leg0" type="box" size="0.02 0.02 0.34" pos="0.26 0.26 -0.36" rgba="0.5 0.4 0.3 1" class="visual"/>
    <geom name="leg1" type="box" size="0.02 0.02 0.34" pos="-0.26 0.26 -0.36" rgba="0.5 0.4 0.3 1" class="visual"/>
    <geom name="leg2" type="box" size="0.02 0.02 0.34" pos="0.26 -0.26 -0.36" rgba="0.5 0.4 0.3 1" class="visual"/>
    <geom name="leg3" type="box" size="0.02 0.02 0.34" pos="-0.26 -0.26 -0.36" rgba="0.5 0.4 0.3 1" class="visual"/>
    <body name="mocap" mocap="true" pos="{GRIPPER_HOME[0]} {GRIPPER_HOME[1]} {GRIPPER_HOME[2]}"/>
    <body name="gripper" pos="{GRIPPER_HOME[0]} {GRIPPER_HOME[1]} {GRIPPER_HOME[2]}" gravcomp="1">
      <freejoint name="gripper"/>
      <inertial pos="0 0 0.04" mass="0.4" diaginertia="0.0005 0.0005 0.0005"/>
      <geom name="palm" type="box" size="0.02 0.055 0.008" pos="0 0 0.033" rgba="0.3 0.3 0.35 1"/>
      <geom name="wrist" type="cylinder" size="0.01 0.05" pos="0 0 0.09" rgba="0.45 0.45 0.5 1" class="visual"/>
      <site name="grasp" pos="0 0 0" size="0.004" rgba="1 1 1 0"/>
      <body name="finger_l" gravcomp="1">
        <joint name="finger_l" type="slide" axis="0 1 0" range="0 {FINGER_MAX}" damping="1" armature="0.001"/>
        <geom name="pad_l" type="box" size="0.012 0.005 0.022" pos="0 0.005 0.003" mass="0.02"
              rgba="0.2 0.2 0.2 1" friction="1.5 0.01 0.001"/>
      </body>
      <body name="finger_r" gravcomp="1">
        <joint name="finger_r" type="slide" axis="0 -1 0" range="0 {FINGER_MAX}" damping="1" armature="0.001"/>
        <geom name="pad_r" type="box" size="0.012 0.005 0.022" pos="0 -0.005 0.003" mass="0.02"
              rgba="0.2 0.2 0.2 1" friction="1.5 0.01 0.001"/>
      </body>
    </body>
{_object_xml()}
{_goal_xml()}
  </worldbody>
  <contact>
    <exclude body1="finger_l" body2="finger_r"/>
  </contact>
  <equality>
    <weld name="mocap_weld" body1="mocap" body2="gripper" solref="0.01 1"/>
  </equality>
  <actuator>
    <position name="finger_l" joint="finger_l" kp="100" ctrlrange="0 {FINGER_MAX}"/>
    <position name="finger_r" joint="finger_r" kp="100" ctrlrange="0 {FINGER_MAX}"/>
  </actuator>
</mujoco>
"""
"""The scene as an MJCF string (kept in Python so it needs no package data)."""
