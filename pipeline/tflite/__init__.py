"""From a trained Keras model to a .tflite file: conversion, post-pass, C export, checks."""
