"""Models for the algorithmic tasks: inputs [batch, time, in] -> logits [batch, time, out].

    ntm        an NTMCell (nmtkit.models.ntm) over the steps, then a linear output layer
    lstm       a stack of LSTM layers without external memory (Graves et al.'s baseline)
    attention  an LSTM encoder over all the input steps and an LSTM decoder over the same steps
               that attends to the encoder's outputs (Luong "general"), as a seq2seq reference
"""

from __future__ import annotations

import keras

from nmtkit.models.ntm import NTMCell


def build_task_model(config, input_width: int, output_width: int) -> keras.Model:
    """`config` is a TaskModelConfig (nmtkit.task_config)."""
    inputs = keras.Input((None, input_width), name="inputs")
    if config.type == "ntm":
        cell = NTMCell(config.units, config.controller, config.memory_size, config.memory_width,
                       config.read_heads, config.write_heads, config.shift_range,
                       keep_place=config.keep_place, name="ntm_cell")
        x = keras.layers.RNN(cell, return_sequences=True, name="ntm")(inputs)
    elif config.type == "lstm":
        x = inputs
        for i in range(config.layers):
            x = keras.layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i}")(x)
    else:
        memory = keras.layers.LSTM(config.units, return_sequences=True, name="encoder")(inputs)
        queries = keras.layers.LSTM(config.units, return_sequences=True, name="decoder")(inputs)
        keys = keras.layers.Dense(config.units, use_bias=False, name="attention_keys")(memory)
        context = keras.layers.Attention(name="attention")([queries, memory, keys])
        x = keras.layers.Dense(config.units, activation="tanh", use_bias=False, name="combine")(
            keras.layers.Concatenate()([context, queries]))
    logits = keras.layers.Dense(output_width, name="output")(x)
    return keras.Model(inputs, logits, name=f"{config.type}_task_model")
