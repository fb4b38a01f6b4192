FROM corpus/bb:1
ENV WHERE=base
ONBUILD RUN echo "fired in $WHERE" > /fired
ONBUILD COPY trigger.txt /from-trigger.txt
ONBUILD LABEL onbuild=yes
