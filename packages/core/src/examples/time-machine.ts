/**
 * The opening of H. G. Wells, "The Time Machine" (1895, in the public domain): the text d2l.ai's
 * RNN chapters train their character-level language model on, built in here so the example
 * needs no download.
 */
export const TIME_MACHINE_OPENING = `The Time Traveller (for so it will be convenient to speak of him) was
expounding a recondite matter to us. His grey eyes shone and twinkled, and
his usually pale face was flushed and animated. The fire burned brightly,
and the soft radiance of the incandescent lights in the lilies of silver
caught the bubbles that flashed and passed in our glasses. Our chairs,
being his patents, embraced and caressed us rather than submitted to be
sat upon, and there was that luxurious after-dinner atmosphere when
thought roams gracefully free of the trammels of precision. And he put it
to us in this way, marking the points with a lean forefinger, as we sat
and lazily admired his earnestness over this new paradox (as we thought
it) and his fecundity.

You must follow me carefully. I shall have to controvert one or two ideas
that are almost universally accepted. The geometry, for instance, they
taught you at school is founded on a misconception.

Is not that rather a large thing to expect us to begin upon? said Filby,
an argumentative person with red hair.

I do not mean to ask you to accept anything without reasonable ground for
it. You will soon admit as much as I need from you. You know of course
that a mathematical line, a line of thickness nil, has no real existence.
They taught you that? Neither has a mathematical plane. These things are
mere abstractions.

That is all right, said the Psychologist.

Nor, having only length, breadth, and thickness, can a cube have a real
existence.

There I object, said Filby. Of course a solid body may exist. All real
things.

So most people think. But wait a moment. Can an instantaneous cube exist?

Don't follow you, said Filby.

Can a cube that does not last for any time at all, have a real existence?

Filby became pensive. Clearly, the Time Traveller proceeded, any real
body must have extension in four directions: it must have Length,
Breadth, Thickness, and Duration. But through a natural infirmity of the
flesh, which I will explain to you in a moment, we incline to overlook
this fact. There are really four dimensions, three which we call the
three planes of Space, and a fourth, Time. There is, however, a tendency
to draw an unreal distinction between the former three dimensions and the
latter, because it happens that our consciousness moves intermittently in
one direction along the latter from the beginning to the end of our
lives.`;
